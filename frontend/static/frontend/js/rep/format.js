// Pure helpers for the rep inbox: labels, dates, the 24-hour window, the contact's hours.

export const CHANNEL_ICONS = { whatsapp: "WA", messenger: "FB", instagram: "IG", sms: "SMS", email: "@", service: "API" };
export const CHANNEL_NAMES = { whatsapp: "WhatsApp", messenger: "Messenger", instagram: "Instagram", sms: "SMS", email: "E-mail", service: "Service" };
export const TICKS = { queued: "○", deferred: "‖", sending: "◐", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠", cancelled: "✕", received: "" };
export const STATUS_NAMES = { open: "Open", pending: "Pending", snoozed: "Snoozed", resolved: "Resolved" };
const MESSAGE_STATES = { queued: "Queued", deferred: "Waiting", sending: "Sending", sent: "Sent", delivered: "Delivered",
                         read: "Read", failed: "Failed", cancelled: "Cancelled", received: "" };
export const LIMIT_NAMES = {
  activity_cap: "your daily cap", warmup: "the warm-up allowance", channel_hourly: "the channel's hourly limit",
  channel_daily: "the channel's daily limit", campaign_cap: "the campaign's daily cap", unavailable: "you are marked unavailable",
  activity_off: "messages are switched off for you on this channel", outside_shift: "outside your shift",
};

export function contactName(c) {
  return c.contact_name || (c.contact && c.contact.name) || `Contact ${c.contact_id}`;
}

// The channel's own name ("WhatsApp Sales"): socket payloads carry only its id and kind.
export function channelName(c, channels = []) {
  if (c.channel && c.channel.name) return c.channel.name;
  const known = channels.find((ch) => ch.id === c.channel_id);
  return known ? known.name : CHANNEL_NAMES[c.channel_kind] || c.channel_kind;
}

export function timeLabel(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
                 : date.toLocaleDateString([], { month: "short", day: "numeric" });
}

// When a message was sent (the platform's time for an inbound one, so a late delivery keeps its real
// day); one of ours still waiting has only the time it was written.
export function messageTime(m) {
  return m.sent_at || m.created_at;
}

// What a message carries, in a few words, where only a line fits (the timeline).
export function messageSummary(m) {
  if (m.body) return m.body;
  if (m.media_filename) return `Document: ${m.media_filename}`;
  if (m.kind === "location") return "Location";
  return m.media_type ? `[${m.media_type}]` : `[${m.kind}]`;
}

export function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

export function dateTime(iso) {
  return iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
}

export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(iso) {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}

// What the bubble says about an outbound message's state, with its reason.
export function messageState(m) {
  if (m.direction !== "out") return { label: "", reason: "" };
  if (m.status === "failed" && m.error_code === "delivery_unknown") {
    return { label: "Delivery unknown", reason: m.error_title, retry: true };
  }
  // The platform may have it (no answer, or a gateway's error): it waits for a status, never resent blind.
  if (m.status === "sending" && m.defer_code === "delivery_unknown") return { label: "Delivery unknown", reason: m.defer_reason };
  if (m.status === "failed") {
    const reason = [m.error_title, m.error_code && m.error_code !== m.error_title ? `(${m.error_code})` : ""].filter(Boolean).join(" ");
    return { label: "Failed", reason: reason || "the platform refused it", retry: true };
  }
  if (m.status === "deferred") return { label: "Waiting", reason: m.defer_reason };
  if (m.status === "queued" && m.defer_reason) return { label: "Queued", reason: m.defer_reason };
  return { label: MESSAGE_STATES[m.status] || m.status, reason: "" };
}

// WhatsApp's 24-hour customer-service window, as the server computed it (GET /api/conversations/<id>/
// `reply_window`: from the person's last message on the channel in any of their conversations). The
// client only lets the clock run on: an open window closes at `closes_at`. Unknown until the detail is loaded.
export function windowState(conversation, now = Date.now()) {
  const w = conversation && conversation.reply_window;
  if (!w || !w.applies) return { applies: false };
  const closesAt = w.closes_at ? Date.parse(w.closes_at) : null;
  return { applies: true, open: w.open && closesAt !== null && closesAt > now, closesAt };
}

function minutes(hhmm) {
  const [h, m] = hhmm.split(":").map(Number);
  return h * 60 + m;
}

function short(hhmm) {
  return hhmm ? hhmm.slice(0, 5) : "";
}

export function localClock(timeZone, now = new Date()) {
  try {
    return new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(now);
  } catch {
    return new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(now);
  }
}

function within(start, end, t) {
  const s = minutes(start), e = minutes(end);
  return s <= e ? t >= s && t < e : t >= s || t < e;  // an end before the start crosses midnight
}

// The contact's quiet hours and allowed hours, against their local time now.
export function contactHours(contact, now = new Date()) {
  if (!contact) return [];
  const p = contact.preferences || {};
  const zone = p.timezone || "UTC";
  const local = localClock(zone, now);
  const t = minutes(local);
  const notes = [];
  if (p.quiet_start && p.quiet_end) {
    const quiet = within(p.quiet_start, p.quiet_end, t);
    notes.push({ kind: quiet ? "warn" : "info", key: "quiet",
      text: quiet ? `Quiet hours for this contact (${short(p.quiet_start)}–${short(p.quiet_end)} ${zone}): it is ${local} there, so a message waits until ${short(p.quiet_end)} their time.`
                  : `Quiet hours ${short(p.quiet_start)}–${short(p.quiet_end)} ${zone} (now ${local} there).` });
  }
  if (p.allowed_start && p.allowed_end) {
    const allowed = within(p.allowed_start, p.allowed_end, t);
    notes.push({ kind: allowed ? "info" : "warn", key: "allowed",
      text: allowed ? `Reachable ${short(p.allowed_start)}–${short(p.allowed_end)} ${zone} (now ${local} there).`
                    : `Outside this contact's hours (${short(p.allowed_start)}–${short(p.allowed_end)} ${zone}): it is ${local} there, so a message waits until ${short(p.allowed_start)}.` });
  }
  return notes;
}

// Today's figures for the rep's "message" activity on a channel, as a sentence.
export function capacityNote(today, channelId) {
  if (!today) return null;
  const channel = today.today.channels.find((c) => c.channel_id === channelId);
  if (!channel) return null;
  const activity = channel.activities.find((a) => a.activity === "message") || channel.activities[0];
  if (!activity) return null;
  const head = `Today on ${channel.channel}: ${activity.used} of ${activity.allowance} used, ${activity.remaining} left`;
  const binding = activity.binding_limit ? ` (${LIMIT_NAMES[activity.binding_limit] || activity.binding_limit} binds)` : "";
  if (activity.blocked_by) {
    const until = activity.next_opening ? ` until ${dateTime(activity.next_opening)}` : "";
    return { kind: "warn", key: "capacity",
             text: `${head}. Sending waits${until}: ${LIMIT_NAMES[activity.blocked_by] || activity.blocked_by}.` };
  }
  return { kind: "info", key: "capacity", text: `${head}${binding}.` };
}

export function uuid() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
