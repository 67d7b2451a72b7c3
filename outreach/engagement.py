"""What an entry trigger needs to know about one inbound engagement, and its announcement.

Built by inbound processing (outreach/inbound/apply.py) and handed up through
OutreachEvents.engagement_received (outreach/seams.py); campaigns decides what to do with it.
"""

from datetime import datetime

from contacts.models import Identity
from outreach.channels.base import InboundItem
from outreach.models import Conversation, InboundEvent, Message, SenderAccount
from outreach.seams import Engagement, outreach_events


class EventType:
    COMMENT = "comment"
    DM = "dm"
    STORY_REPLY = "story_reply"
    STORY_MENTION = "story_mention"
    AD_REFERRAL = "ad_referral"
    DEEP_LINK = "deep_link"
    EMAIL = "email"

    choices = [
        (COMMENT, "Comment on a post"),
        (DM, "Direct message"),
        (STORY_REPLY, "Story reply"),
        (STORY_MENTION, "Story mention"),
        (AD_REFERRAL, "Ad referral (click-to-message ad)"),
        (DEEP_LINK, "Deep-link start (Telegram /start)"),
        (EMAIL, "Email to an address"),
    ]


def email_lead_wanted(recipients: list[str], sender: SenderAccount) -> bool:
    """Does an email from an unknown address to these addresses make a new lead (an entry
    trigger watches one of them)? Outreach then creates the contact."""
    return bool(recipients) and outreach_events().email_lead_wanted(recipients, sender)


def event_type_of(channel: str, item: InboundItem) -> str:
    if item.kind == "comment":
        return EventType.COMMENT
    if item.kind == "start":
        return EventType.DEEP_LINK
    if item.referral:
        return EventType.AD_REFERRAL
    if item.subtype in (EventType.STORY_REPLY, EventType.STORY_MENTION):
        return item.subtype
    return EventType.EMAIL if channel == "email" else EventType.DM


def engagement_announce(
    *,
    event: InboundEvent,
    item: InboundItem,
    identity: Identity,
    sender: SenderAccount,
    conversation: Conversation,
    at: datetime,
    message: Message | None = None,
    new_conversation: bool = False,
) -> None:
    referral = item.referral or {}
    if item.kind == "start":
        text = item.start_token
    elif event.provider == "email":
        text = f"{item.name}\n{item.text}".strip()  # the subject counts as what they wrote
    else:
        text = item.text
    outreach_events().engagement_received(
        Engagement(
            event=event,
            event_type=event_type_of(event.provider, item),
            identity=identity,
            sender=sender,
            conversation=conversation,
            at=at,
            text=text,
            post_id=item.post_id,
            ref=item.start_token or str(referral.get("ref", "")),
            referral=referral,
            message=message,
            comment_id=item.refers_to[0] if item.kind == "comment" and item.refers_to else "",
            recipients=item.recipients,
            new_conversation=new_conversation,
        ),
    )
