// Pieces every operator page shares: Preact + htm (vendored), fetch errors as sentences, copy buttons.
import { html, render, useState, useEffect, useRef, useCallback } from "../../vendor/htm-preact-standalone-3.1.1.mjs";
import { api } from "../api.js";

export { html, render, useState, useEffect, useRef, useCallback, api };

// api.js throws the server's `detail`, or the JSON of a validation error ({"name": ["…"]}): make it a sentence.
export function errorText(error) {
  const message = (error && error.message) || String(error);
  try {
    const data = JSON.parse(message);
    if (data && typeof data === "object") {
      return Object.entries(data).map(([field, value]) => {
        const text = Array.isArray(value) ? value.join(" ") : typeof value === "object" ? JSON.stringify(value) : value;
        return field === "detail" || field === "non_field_errors" ? text : `${field}: ${text}`;
      }).join(" · ");
    }
  } catch (_) { /* not JSON: the message is already a sentence */ }
  return message;
}

export function timeLabel(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// Loads once (and again on reload()); `data` null until then, `error` a sentence.
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: null, error: "" });
  const reload = useCallback(() => load().then((data) => setState({ data, error: "" }),
    (error) => setState((s) => ({ data: s.data, error: errorText(error) }))), deps);
  useEffect(() => { reload(); }, [reload]);
  return [state.data, state.error, reload];
}

// A message for screen readers and eyes; kind "error" is announced at once.
export function Notice({ message, kind = "info" }) {
  if (!message) return null;
  return html`<p class=${`op-notice op-${kind}`} role=${kind === "error" ? "alert" : "status"}>${message}</p>`;
}

// One click copies `text`; says so (or why not) next to the button.
export function CopyButton({ text, label }) {
  const [said, setSaid] = useState("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setSaid("Copied");
    } catch (_) {
      setSaid("Copy refused by the browser: select the text and copy it");
    }
  };
  return html`<span class="op-copy">
    <button type="button" class="op-button" onClick=${copy} aria-label=${label}>Copy</button>
    <span class="op-muted" role="status">${said}</span></span>`;
}

// A read-only value with its copy button, e.g. the webhook URL.
export function CopyField({ id, label, value }) {
  return html`<div class="op-field">
    <label for=${id}>${label}</label>
    <div class="op-copyrow">
      <input id=${id} class="op-mono" readonly value=${value} onFocus=${(e) => e.target.select()} />
      <${CopyButton} text=${value} label=${`Copy the ${label}`} />
    </div></div>`;
}

export function Field({ id, label, hint, children }) {
  return html`<div class="op-field"><label for=${id}>${label}</label>${children}
    ${hint && html`<small id=${`${id}-hint`} class="op-muted">${hint}</small>`}</div>`;
}

export function StateBadge({ state, unrouted }) {
  const label = unrouted ? "unrouted" : state;
  return html`<span class=${`op-badge op-state-${label}`}>${label}</span>`;
}

export function mount(App, props = {}) {
  const root = document.getElementById("app");
  root.textContent = "";
  render(html`<${App} ...${props} />`, root);
}

// A table that scrolls sideways on a narrow screen: focusable, so the keyboard can scroll it too.
export function Scroll({ label, children }) {
  return html`<div class="op-scroll" tabindex="0" role="region" aria-label=${label}>${children}</div>`;
}
