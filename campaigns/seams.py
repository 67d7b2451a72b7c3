"""What campaigns does when outreach or contacts tell it something (outreach/seams.py,
contacts/seams.py), named by the OUTREACH_EVENTS and CONTACTS_EVENTS settings.

Each method runs inside the transaction of the change it is told of, so what it writes
commits or rolls back with it, and reads top to bottom in the order things happen: the work
that must happen first, then the counters, then the optional fan-out (campaigns/signals.py,
the outgoing webhooks), which may fail alone.
"""

from campaigns import counters, replies, services, signals
from campaigns.access import campaigns_visible_to
from campaigns.models import Campaign, Enrollment
from campaigns.routes import message_has_fallback
from campaigns.triggers import capture
from campaigns.triggers import services as triggers
from contacts.channels import CHANNEL_CHOICES
from contacts.models import Contact
from contacts.seams import ContactsEvents, ContactsImported, OptedOut
from contacts.services import contact_opt_out
from deliverability import guards
from outreach.models import Message, SenderAccount
from outreach.seams import (
    Engagement,
    IntentCorrected,
    MessageFailed,
    MessageRequeued,
    OutreachEvents,
    ReplyRecorded,
)
from outreach.selectors import contacts_with_messages
from pipelines import services as pipelines
from pipelines.contacted import deals_open_for_contacted
from pipelines.models import Deal
from pipelines.services import DealOrigin

E = Enrollment.State
M = Message.Status
# Inbound kinds that are a conversation with a lead (bounces and auto-replies are not).
REPLIES = ("reply", "opt_out")


class CampaignEvents(OutreachEvents):
    """Campaigns' answer to outreach (OUTREACH_EVENTS)."""

    def messages_sent(self, messages: list[Message]) -> None:
        # Counters, next steps scheduled, then entry triggers re-time them.
        links = services.enrollments_after_send(messages=messages)
        # Pipelines that want every contacted contact on the board open their deals.
        origins = {
            link.enrollment.contact_id: DealOrigin(
                link.enrollment.campaign_id, link.enrollment.campaign.owner_id
            )
            for link in links
        }
        deals_open_for_contacted(origins=origins)
        # Slowed-down senders speed up again once their rates fall.
        guards.guards_after_sends(sender_ids={m.sender_id for m in messages})

    def message_failed(self, failure: MessageFailed) -> None:
        services.enrollment_after_failure(
            message=failure.message,
            status=M.FAILED,
            previous=failure.previous,
            refused=failure.refused,
        )
        # A bounce or an authentication refusal may pause or slow the sender.
        guards.guard_after_failure(message=failure.message)
        signals.message_failed.fan_out(sender=Message, message=failure.message)

    def message_cancelled(self, message: Message) -> None:
        services.enrollment_after_failure(message=message, status=M.CANCELLED)

    def message_requeued(self, requeue: MessageRequeued) -> None:
        services.message_after_requeue(
            message=requeue.message, previous=requeue.previous, sent_at=requeue.sent_at
        )

    def messages_delivered(self, message_ids: list[int]) -> None:
        counters.counters_after_delivery(message_ids=message_ids)

    def reply_recorded(self, reply: ReplyRecorded) -> None:
        """A reply's route through campaigns, in this order."""
        message, kind, intent = reply.message, reply.kind, reply.intent
        contact = message.conversation.identity.contact
        # 1. Sequences: a reply stops them (an out-of-office one does not), an opt-out too.
        replied = services.reply_record(
            message=message, kind=kind, intent=intent, replies_to=reply.replies_to
        )
        # 2. Out of office holds them instead; a real reply goes to the campaign owner and
        #    moves the deal by the pipeline's rules, and asking to unsubscribe opts out.
        if intent == "out_of_office":
            replies.out_of_office_pause(
                contact=contact, message=message, return_date=reply.return_date
            )
        elif kind in REPLIES:
            origin = replies.deal_origin(contact.id)
            replies.conversation_assign_campaign_owner(message=message, origin=origin)
            if intent == "unsubscribe" and kind != "opt_out":
                # The opt-out comes between the two moves: its contact.opted_out webhook
                # between their deal.stage_changed ones, its lock on the contact after the
                # reply's on the deal.
                pipelines.deal_apply_event(
                    contact=contact, event="reply", message=message, origin=origin
                )
                contact_opt_out(
                    contact=contact, source=f"{message.channel} reply asked to unsubscribe"
                )
                pipelines.deal_apply_event(
                    contact=contact, event="intent:unsubscribe", message=message, origin=origin
                )
            else:
                pipelines.deal_apply_events(
                    contact=contact,
                    events=["reply", f"intent:{intent}"],
                    message=message,
                    origin=origin,
                )
        # A complaint (kind opt_out with the "complaint" event) may pause or slow its sender.
        if kind == "opt_out" and message.events.filter(detail="complaint").exists():
            guards.guard_after_complaint(message=message)
        # 3. Counters: the reply (the enrollments reply_record made "replied") with its label.
        counters.counters_after_label(message=message, label=intent, replied=replied)
        # 4. Fan-out: outgoing webhooks.
        if kind == "reply":
            signals.reply_received.fan_out(sender=Message, message=message)
        signals.reply_labelled.fan_out(sender=Message, message=message, intent=intent)

    def intent_corrected(self, correction: IntentCorrected) -> None:
        message, intent, by = correction.message, correction.intent, correction.by
        contact = message.conversation.identity.contact
        # An opt-out is final, so a rep's correction only opts out once they confirmed it.
        if intent == "unsubscribe" and correction.confirmed:
            contact_opt_out(
                contact=contact, source="inbox: a rep labelled the reply unsubscribe", actor=by
            )
        pipelines.deal_after_correction(
            contact=contact,
            message=message,
            intent=intent,
            by=by,
            origin=replies.deal_origin(contact.id),
        )
        counters.counters_after_label(message=message, label=intent, previous=correction.previous)
        signals.reply_labelled.fan_out(sender=Message, message=message, intent=intent)

    def engagement_received(self, engagement: Engagement) -> None:
        # An answer to an open question is not a new entry.
        if capture.capture_answer(engagement=engagement):
            return
        triggers.triggers_evaluate(engagement=engagement)

    def refusal_has_fallback(self, message: Message) -> bool:
        # A policy refusal fails a step's message at once when the step re-routes it.
        return message_has_fallback(message)

    def email_lead_wanted(self, recipients: list[str], sender: SenderAccount) -> bool:
        return triggers.email_lead_watched(recipients, sender)


class CampaignContactEvents(ContactsEvents):
    """Campaigns' (and outreach's) answer to contacts (CONTACTS_EVENTS)."""

    def contact_opted_out(self, opt_out: OptedOut) -> None:
        # An opt-out of one channel (a one-click link, a complaint, a blocked bot) stops the
        # sequences that use it at once, not when the dispatcher later refuses their
        # messages. Opting out of every channel is stopped by its callers
        # (services.reply_record, campaigns.bulk), which choose the state: a reply that asks
        # to stop still counts as one.
        if opt_out.channel:
            channel = dict(CHANNEL_CHOICES).get(opt_out.channel, opt_out.channel)
            services.enrollments_stop_for_contact(
                contact_id=opt_out.contact.id,
                state=E.STOPPED,
                reason=f"contact opted out of {channel}",
                channel=opt_out.channel,
            )
        signals.contact_opted_out.fan_out(
            sender=Contact, contact=opt_out.contact, channel=opt_out.channel, source=opt_out.source
        )

    def contacts_opt_out_changed(self, contact_ids: list[int], opted_out: bool) -> None:
        counters.counters_after_opt_out(contact_ids=contact_ids, sign=1 if opted_out else -1)

    def contacts_imported(self, batch: ContactsImported) -> None:
        services.enrollments_after_import(
            contact_import=batch.contact_import, contact_ids=batch.contact_ids
        )

    def import_choices(self, user) -> list[tuple[str, str]]:
        # A Finished campaign is offered too: enrolling more runs it again
        # (campaigns/services.py campaign_reopen_if_finished).
        def label(c: Campaign) -> str:
            if c.status == Campaign.Status.FINISHED:
                return f"Enrol into campaign: {c.name} (finished: enrolling runs it again)"
            return f"Enrol into campaign: {c.name}"

        return [(f"campaign:{c.pk}", label(c)) for c in campaigns_visible_to(user)]

    def contact_activity(self, contact_ids) -> dict[str, set[int]]:
        # Both apps above contacts: outreach's conversations, then campaigns' own rows.
        def who(model) -> set[int]:
            rows = model.objects.filter(contact_id__in=contact_ids)
            return set(rows.values_list("contact_id", flat=True).distinct().order_by())

        return contacts_with_messages(contact_ids) | {
            "are enrolled in a campaign": who(Enrollment),
            "have a deal": who(Deal),
        }
