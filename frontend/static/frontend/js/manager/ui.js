// What every manager-console screen shares: Preact + htm (vendored), fetch errors as sentences,
// loading hooks, a live-event bus fed by the one socket client, and small formatters.
import { html, render, useState, useEffect, useRef, useMemo, useCallback } from "../../vendor/htm-preact-standalone-3.1.1.mjs";
import { api } from "../api.js";

export { html, render, useState, useEffect, useRef, useMemo, useCallback, api };

// api.js throws the server's `detail`, or the JSON of a validation error ({"field": ["…"]}): a sentence naming the field.
export function errorText(error) {
  const message = (error && error.message) || String(error);
  try {
    const data = JSON.parse(message);
    if (data && typeof data === "object") {
      const flat = (value) => Array.isArray(value) ? value.map(flat).join(" ")
        : value && typeof value === "object" ? Object.entries(value).map(([k, v]) => `${k}: ${flat(v)}`).join("; ") : String(value);
      return Object.entries(data).map(([field, value]) =>
        field === "detail" || field === "non_field_errors" ? flat(value) : `${field}: ${flat(value)}`).join(" · ");
    }
  } catch (_) { /* not JSON: already a sentence */ }
  return message;
}

// Socket frames fan out to the screens that listen (the socket itself stays in ../socket.js).
const listeners = new Set();
export function publish(frame) { for (const listener of listeners) listener(frame); }
export function useLive(onFrame, deps = []) {
  useEffect(() => {
    listeners.add(onFrame);
    return () => listeners.delete(onFrame);
  }, deps);
}

// Calls `fn` at most once per `ms`, the last call always landing: a burst of frames is one re-read.
export function throttle(fn, ms) {
  let timer = null, again = false;
  const run = () => {
    timer = null;
    if (again) { again = false; fn(); timer = setTimeout(run, ms); }
  };
  return () => {
    if (timer) { again = true; return; }
    fn();
    timer = setTimeout(run, ms);
  };
}

// Loads on mount and on reload(); `data` stays while a reload runs, `error` is a sentence.
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: null, error: "" });
  const reload = useCallback(() => load().then((data) => setState({ data, error: "" }),
    (error) => setState((s) => ({ data: s.data, error: errorText(error) }))), deps);
  useEffect(() => { reload(); }, [reload]);
  return [state.data, state.error, reload];
}

export function Notice({ message, kind = "info", id }) {
  if (!message) return null;
  return html`<p id=${id} class=${`mc-notice mc-${kind}`} role=${kind === "error" ? "alert" : "status"}>${message}</p>`;
}

export function Field({ id, label, hint, children, wide }) {
  return html`<div class=${`mc-field${wide ? " mc-wide" : ""}`}><label for=${id}>${label}</label>${children}
    ${hint && html`<small id=${`${id}-hint`} class="mc-muted">${hint}</small>`}</div>`;
}

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  const today = date.toDateString() === new Date().toDateString();
  return today ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

// Names of the limits the capacity rules report (salesreps.rules.binding_limit, rep_today's blocked_by).
const LIMITS = {
  activity_cap: "daily cap", warmup: "warm-up allowance", channel_hourly: "channel hourly limit",
  channel_daily: "channel daily limit", campaign_cap: "campaign daily cap", unavailable: "unavailable",
  activity_off: "activity off (cap 0)", outside_shift: "outside shift", none: "no limit",
};
export const limitName = (code) => LIMITS[code] || (code ? code.replaceAll("_", " ") : "–");

export function Tabs({ current, tabs }) {
  return html`<nav class="mc-tabs" aria-label="Manager console">
    ${tabs.map(([key, label]) => html`<a key=${key} href=${`#${key}`} aria-current=${current === key ? "page" : undefined}>${label}</a>`)}
  </nav>`;
}
