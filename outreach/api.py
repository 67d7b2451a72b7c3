"""REST API for conversations, messages and sender accounts (read, reply)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.api_support import IDEMPOTENCY_KEY, idempotent
from outreach.access import conversations_visible_to, messages_visible_to, senders_visible_to
from outreach.inbox.services import conversation_reply
from outreach.models import Conversation, Message, SenderAccount
from outreach.serializers import (
    ConversationSerializer,
    MessageSerializer,
    ReplySerializer,
    SenderAccountSerializer,
)


class ConversationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ConversationSerializer
    filterset_fields = ["sender", "assigned_to", "identity__contact"]
    ordering_fields = ["id", "last_inbound_at", "last_outbound_at"]
    queryset = Conversation.objects.none()

    def get_queryset(self):
        return (
            conversations_visible_to(self.request.user).select_related("identity").order_by("-id")
        )

    @extend_schema(
        request=ReplySerializer, responses={201: MessageSerializer}, parameters=[IDEMPOTENCY_KEY]
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def reply(self, request, pk=None):
        """Queue a reply written by a person; the engine sends it like any other message."""
        conversation = self.get_object()
        data = ReplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            message = conversation_reply(
                conversation=conversation, author=request.user, **data.validated_data
            )
        except ValueError as e:  # a body of blanks only
            raise ValidationError({"body": [str(e)]}) from None
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class MessageViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = MessageSerializer
    filterset_fields = ["conversation", "status", "direction", "channel"]
    ordering_fields = ["id", "created_at", "sent_at"]
    queryset = Message.objects.none()

    def get_queryset(self):
        return messages_visible_to(self.request.user).order_by("-id")


class SenderAccountViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SenderAccountSerializer
    filterset_fields = ["channel", "paused"]
    queryset = SenderAccount.objects.none()

    def get_queryset(self):
        return senders_visible_to(self.request.user).order_by("name")
