"""The inbox's extension points: what a higher app (campaigns) may add to the inbox's flows.

Campaigns connects its listeners in CampaignsConfig.ready(); the inbox never imports it.
Listeners run inside the caller's transaction and take keyword arguments only.
"""
from core.hooks import Hook

send_facts = Hook("send_facts", """(message, now) -> inbox.sending.CampaignFacts | None: what a
campaign knows of a message about to be decided. Runs under the message and rep-channel row
locks; a listener may lock its own rows (after those, so the lock order stays fixed).""")

send_batch_locks = Hook("send_batch_locks", """(messages) -> None: a dispatch batch is about to
decide these messages (their rows and rep-channels locked): a listener locks the rows its
send_facts will lock, all at once in id order, so two batches never wait on each other in a circle.""")

send_decided = Hook("send_decided", """(message, decision, now) -> None: apply the campaign
effects of a send decision (inbox.sending RecipientCancel / RecipientSkip / RecipientReplan /
CampaignSendReserve) in the same transaction.""")

message_status_changed = Hook("message_status_changed", """(message) -> None: an outbound message
moved to sent, delivered, read or failed.""")

contacts_replied = Hook("contacts_replied", """(replies: {contact_id: at}) -> None: inbound messages from these
contacts were stored (one call per batch; `at` is the latest reply of each).""")

contacts_merged = Hook("contacts_merged", """(keep_id, duplicate_id) -> dict | None: contact duplicate_id
is being merged into keep_id, inside the merge's transaction and before the duplicate is deleted;
a listener moves its rows and may answer counts for the merge record.""")
