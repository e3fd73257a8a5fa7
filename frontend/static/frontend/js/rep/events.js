// Socket events into the inbox state, desktop notifications while the tab is hidden, today's figures.
import { api } from "../api.js";
import { contactName } from "./format.js";
import { loadConversations, refreshCounts, upsertConversations, wantConversation } from "./list.js";
import { state, update } from "./store.js";
import { applyChanges, openConversation, refreshCurrent, upsertMessage, upsertTimeline } from "./thread.js";

let todayTimer = null;
let typingTimer = null;

export async function loadToday() {
  if (!state.me.rep) return;
  const today = await api("/api/reps/me/");
  update({ today });
  const toggle = document.getElementById("availability");
  if (toggle) toggle.checked = today.is_available;
}

function refreshToday() {
  clearTimeout(todayTimer);
  todayTimer = setTimeout(() => loadToday().catch(() => {}), 300);
}

export async function reloadAll() {
  await loadConversations();
  refreshCounts();
  if (state.current) await openConversation(state.current, { keepScroll: true });
}

// The person wrote on the open conversation's channel (in it, or in another of their conversations
// there) after the window the server last computed: its 24-hour window is computed again.
function opensWindow(data) {
  const c = state.current && state.conversations.get(state.current);
  if (!c || !c.reply_window || !data.last_inbound_at) return false;
  if (data.contact_id !== c.contact_id || data.channel_id !== c.channel_id) return false;
  const known = c.reply_window.last_inbound_at;
  return !known || Date.parse(data.last_inbound_at) > Date.parse(known);
}

export function onEvent({ event, data }) {
  if (event === "message.created" || event === "message.updated") {
    if (data.direction === "out" && (data.status === "sent" || event === "message.created")) refreshToday();
    upsertTimeline(data);
    if (data.conversation_id === state.current) {
      upsertMessage(data, { created: event === "message.created" });
      if (event === "message.created" && data.direction === "in") {
        if (!document.hidden) window.sb.socket.send({ action: "mark_read", conversation_id: data.conversation_id });
      }
    }
    if (event === "message.created" && data.direction === "in") notify(data);
  } else if (event === "messages.changed") {
    // a bulk change (campaign planned, paused, resumed, cancelled; sequence stopped): one event per conversation
    wantConversation(data.conversation_id);
    applyChanges(data.conversation_id, data.messages);
  } else if (event === "conversations.changed") {
    upsertConversations(data.conversations);  // opened or assigned in bulk (a campaign planned): one render
  } else if (event === "conversation.created" || event === "conversation.updated") {
    upsertConversations([data]);
    if (opensWindow(data)) refreshCurrent();
  } else if (event === "conversation.assigned") {
    upsertConversations([data.conversation]);
  } else if (event === "typing" && data.conversation_id === state.current) {
    update({ typing: { conversationId: data.conversation_id, repId: data.rep_id, name: data.name } });
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => update({ typing: null }), 3000);
  } else if (event === "rep.presence" && state.me.rep && data.rep_id === state.me.rep.id) {
    const toggle = document.getElementById("availability");
    if (toggle) toggle.checked = data.available;
  }
}

// ---- desktop notifications (opt-in, only while the tab is hidden) ---------------------------------

const NOTIFY_KEY = "switchboard.notify";

export function notificationsOn() {
  return "Notification" in window && Notification.permission === "granted" && localStorage.getItem(NOTIFY_KEY) === "1";
}

export async function setNotifications(on) {
  if (!("Notification" in window)) return false;
  if (on && Notification.permission !== "granted") {
    if (await Notification.requestPermission() !== "granted") on = false;
  }
  localStorage.setItem(NOTIFY_KEY, on ? "1" : "0");
  return notificationsOn();
}

function notify(message) {
  if (!document.hidden || !notificationsOn()) return;
  const conversation = state.conversations.get(message.conversation_id);
  const who = conversation ? contactName(conversation) : "a contact";
  const body = message.body || (message.media_url ? `[${message.media_type || "attachment"}]` : "");
  const shown = new Notification(`New message from ${who}`, { body: body.slice(0, 140), tag: `conversation-${message.conversation_id}` });
  shown.onclick = () => { window.focus(); openConversation(message.conversation_id); shown.close(); };
}

// Reading happens when the rep comes back to the tab with the thread open.
document.addEventListener("visibilitychange", () => {
  const c = state.current && state.conversations.get(state.current);
  if (!document.hidden && c && c.unread_count) window.sb.socket.send({ action: "mark_read", conversation_id: c.id });
});
