// The composer: free text or a template with a form for its variables and a live preview; what
// will hold the message back is said before sending (WhatsApp's 24-hour window, the contact's quiet
// hours, today's binding limit, an opt-out). One Idempotency-Key per composed message.
import { html, useEffect, useRef, useState } from "../../vendor/htm-preact-standalone-3.1.1.mjs";
import { api } from "../api.js";
import { capacityNote, contactHours, uuid, windowState } from "./format.js";
import { state as store } from "./store.js";
import { compose } from "./thread.js";

function useNow(ms = 30000) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), ms); return () => clearInterval(t); }, []);
  return now;
}

function windowNote(w, now) {
  if (!w.applies) return null;
  if (!w.open) return null;  // said by the hint above the composer
  const hours = Math.floor((w.closesAt - now) / 3600e3), minutes = Math.floor(((w.closesAt - now) % 3600e3) / 60e3);
  return { kind: "info", key: "window", text: `WhatsApp's 24-hour window is open: free text for ${hours} h ${minutes} min more.` };
}

function optOutNote(contact, c) {
  if (!contact) return null;
  const p = contact.preferences;
  if (p.opted_out) return { kind: "warn", key: "optout", text: `This contact opted out${p.opt_out_reason ? ` (${p.opt_out_reason})` : ""}: a message is refused.` };
  if (p.opt_outs.includes(c.channel_kind)) return { kind: "warn", key: "optout", text: `This contact opted out of ${c.channel_kind}: a message here is refused.` };
  if (p.opt_out_purposes.includes("conversation")) return { kind: "warn", key: "optout", text: "This contact refuses conversation messages." };
  return null;
}

// The contact the composer's notes read: the panel's copy when it is loaded, else one fetch per conversation.
function useContact(c) {
  const [contact, setContact] = useState(null);
  useEffect(() => {
    let live = true;
    api(`/api/contacts/${c.contact_id}/`).then((data) => { if (live) setContact(data); }).catch(() => {});
    return () => { live = false; };
  }, [c.contact_id]);
  return (store.panel.contact && store.panel.contact.id === c.contact_id) ? store.panel.contact : contact;
}

export function Composer({ state, c }) {
  const now = useNow();
  const contact = useContact(c);
  const [templateId, setTemplateId] = useState("");
  const [values, setValues] = useState({});
  const [text, setText] = useState("");
  const [preview, setPreview] = useState({ text: "", missing: [] });
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const composed = useRef(null);  // { fingerprint, key }: the key stays until the server acknowledges
  const textarea = useRef(null), picker = useRef(null);
  const typingSent = useRef(0);

  const template = state.templates.find((t) => String(t.id) === templateId);
  const filled = Object.fromEntries(Object.entries(values).filter(([, v]) => v.trim()));  // a blank is still missing
  const w = windowState(c, now);
  const closed = w.applies && !w.open;
  const freeTextBlocked = closed && !template;

  // Outside the window only a template goes: WhatsApp's approved ones first.
  const suggested = closed ? [...state.templates].sort((a, b) => Number(!a.whatsapp_name) - Number(!b.whatsapp_name)).slice(0, 3) : [];

  function pick(id) {
    setTemplateId(id);
    setValues({});
    setError("");
  }

  useEffect(() => {
    if (textarea.current && !textarea.current.disabled) textarea.current.focus();
    else if (picker.current) picker.current.focus();
  }, []);

  useEffect(() => {
    if (!template) { setPreview({ text: "", missing: [] }); return undefined; }
    let live = true;
    const timer = setTimeout(() => {
      api(`/api/templates/${template.id}/preview/`, { method: "POST", body: { variables: filled, language: contact ? contact.preferences.language : "" } })
        .then((p) => { if (live) setPreview(p); }).catch((e) => { if (live) setError(e.message); });
    }, 120);
    return () => { live = false; clearTimeout(timer); };
  }, [templateId, JSON.stringify(filled), contact && contact.id]);

  function keyFor(body) {
    const fingerprint = `${c.id}:${JSON.stringify(body)}`;
    if (!composed.current || composed.current.fingerprint !== fingerprint) composed.current = { fingerprint, key: uuid() };
    return composed.current.key;
  }

  async function send() {
    if (busy) return;
    const body = template ? { template_id: template.id, variables: filled } : { text: text.trim() };
    if (!template && (!body.text || freeTextBlocked)) return;
    setBusy(true);
    try {
      await compose(c.id, body, keyFor(body));
      composed.current = null;  // acknowledged: the next message gets a key of its own
      setText("");
      setValues({});
      setError("");
    } catch (e) {
      setError(e.message);  // the same key goes with the same message when the rep sends again
    } finally {
      setBusy(false);
    }
  }

  function onKeyDown(e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); }
  }

  function onInput(e) {
    setText(e.target.value);
    if (Date.now() - typingSent.current > 2000) {
      typingSent.current = Date.now();
      window.sb.socket.send({ action: "typing", conversation_id: c.id });
    }
  }

  const notes = [windowNote(w, now), ...contactHours(contact, new Date(now)), capacityNote(state.today, c.channel_id), optOutNote(contact, c)]
    .filter(Boolean);

  return html`<form id="composer" class="composer" onSubmit=${(e) => { e.preventDefault(); send(); }}>
    ${closed ? html`<div id="window-hint" class="hint" role="status">
      <p>WhatsApp's 24-hour window is closed${w.closesAt ? ` (since ${new Date(w.closesAt).toLocaleString()})` : ": this person has not written on this channel"}:
        free text cannot be sent. Pick a template to write to this contact.</p>
      ${template || !suggested.length ? null : html`<p class="suggest">Suggested:
        ${suggested.map((t) => html` <button type="button" class="link" key=${t.id} onClick=${() => pick(String(t.id))}>Use ${t.name}</button>`)}</p>`}
    </div>` : null}
    <div class="template-row">
      <label for="template">Template</label>
      <select id="template" ref=${picker} value=${templateId} onChange=${(e) => pick(e.target.value)}>
        <option value="">${closed ? "Free text (window closed)" : "Free text"}</option>
        ${state.templates.map((t) => html`<option value=${String(t.id)}>${t.name}</option>`)}
      </select>
    </div>
    ${template ? html`<fieldset class="variables">
      <legend>Fill in ${template.name}</legend>
      ${template.variables.length ? null : html`<p class="muted">This template has no blanks.</p>`}
      ${template.variables.map((name) => html`<label key=${name}><span>${name}</span>
        <input name=${name} value=${values[name] || ""} onInput=${(e) => setValues({ ...values, [name]: e.target.value })} /></label>`)}
      <div class="preview-box"><span class="muted">Preview</span>
        <output id="preview" class="template-preview" for="template" aria-live="polite">${
          preview.missing.length ? `Fill in: ${preview.missing.join(", ")}` : preview.text}</output></div>
    </fieldset>` : null}
    <label for="composer-text" class="sr-only">Message</label>
    <div class="write">
      <textarea id="composer-text" ref=${textarea} rows="2" value=${template ? "" : text} disabled=${Boolean(template) || freeTextBlocked}
        placeholder=${freeTextBlocked ? "The 24-hour window is closed: choose a template" : template ? "Sending the template above" : "Write a reply — Enter sends, Shift+Enter for a new line"}
        onKeyDown=${onKeyDown} onInput=${onInput}></textarea>
      <button type="submit" id="send" disabled=${busy || freeTextBlocked || (template && preview.missing.length > 0)}>Send</button>
    </div>
    ${notes.length ? html`<ul class="send-notes" aria-label="Before you send">
      ${notes.map((n) => html`<li key=${n.key} class=${`note note-${n.kind}`} data-note=${n.key}>${n.text}</li>`)}</ul>` : null}
    <p id="composer-error" class="error" role="alert">${error}</p>
  </form>`;
}
