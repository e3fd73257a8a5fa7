// The rep inbox's one state object. Actions change it through update(); the App component
// re-renders (once per microtask, however many updates) through useStore().
import { useEffect, useState } from "../../vendor/htm-preact-standalone-3.1.1.mjs";

export const state = {
  me: null,
  today: null,            // /api/reps/me/: today's capacity per channel and activity
  channels: [],           // for the channel filter
  reps: [],               // managers: whom they may assign to
  templates: [],
  conversations: new Map(),
  order: [],
  next: null,             // the list's next cursor page
  loadingMore: false,
  filters: { status: "", channel: "", unread: false, search: "" },
  counts: { unread_conversations: 0, unread_messages: 0, by_status: {} },
  current: null,
  notice: "",             // shown instead of a thread (reassigned away…)
  thread: { messages: new Map(), older: null, loadingOlder: false, highlight: null, scroll: "bottom" },
  typing: null,           // { conversationId, repId, name }: cleared 3 s after the last frame
  panel: { open: false, contactId: null, contact: null, campaigns: null, channels: null, error: "" },
  // The person's messages on every channel (GET /api/contacts/<id>/timeline/, newest page first),
  // kept oldest first for display; `next` is the cursor of the page before.
  timeline: { contactId: null, messages: new Map(), next: null, loading: false, error: "" },
  search: { open: false, q: "", results: [], next: null, loading: false, error: "" },
  actionError: "",
};

const listeners = new Set();
let scheduled = false;

export function update(patch) {
  Object.assign(state, typeof patch === "function" ? patch(state) : patch);
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const listener of listeners) listener();
  });
}

export function useStore() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return state;
}

export function setThread(patch) {
  update({ thread: { ...state.thread, ...patch } });
}
