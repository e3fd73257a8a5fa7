"""GET /api/contacts/<id>/campaigns/: the campaigns and sequences a contact is in, for whoever may
see the contact (the rep's contact panel), unlike /api/campaigns/ which is for managers."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Campaign, CampaignRecipient
from campaigns.selectors import contact_campaigns
from inbox.api.common import ERRORS_404, id_param


class ContactStepSerializer(serializers.Serializer):
    step = serializers.IntegerField(help_text="0: the campaign's first message; 1…: its follow-ups.")
    state = serializers.CharField(help_text="The recipient's state: " + ", ".join(CampaignRecipient.State.values) + ".")
    reason = serializers.CharField(help_text="Why it was skipped or failed.")
    sent_at = serializers.DateTimeField(allow_null=True)
    replied_at = serializers.DateTimeField(allow_null=True)


class ContactCampaignSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    # Plain text, not an enum: a second "status" choice set would rename the campaign API's enum in the schema.
    status = serializers.CharField(help_text="The campaign's status: " + ", ".join(Campaign.Status.values) + ".")
    follow_up_steps = serializers.IntegerField(help_text="Follow-up steps of the campaign's sequence.")
    steps = ContactStepSerializer(many=True)


class ContactCampaignsView(APIView):
    @extend_schema(parameters=[id_param("contact_id")], summary="The campaigns and sequences a contact is in",
                   responses={200: ContactCampaignSerializer(many=True), **ERRORS_404})
    def get(self, request, contact_id: str):
        return Response(ContactCampaignSerializer(contact_campaigns(user=request.user, contact_id=int(contact_id)),
                                                  many=True).data)
