// The campaign builder: audience filters with a live count of matching contacts in the team, channel
// and the rep pool that sends it, text or template with its variables, window and allowed hours,
// follow-up steps, daily cap.
// Saving makes a draft (POST /api/campaigns/); the campaign's page starts it.
import { html, useState, useEffect, useRef, api, errorText, Notice, Field, useLoad } from "./ui.js";

const split = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);
const pad = (n) => String(n).padStart(2, "0");
const localInput = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;

export function placeholders(text) {
  return [...new Set([...(text || "").matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]))];
}

// Allowed hours each day of the window, as the campaign's wall-clock slots (applied in each contact's zone).
export function dailySlots(startAt, endAt, from, to) {
  const slots = [];
  if (!from || !to || from >= to) return slots;
  const start = new Date(`${startAt}:00Z`), end = new Date(`${endAt}:00Z`);
  for (let day = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate())); day < end && slots.length < 400;
    day = new Date(day.getTime() + 86400000)) {
    const date = day.toISOString().slice(0, 10);
    const lo = new Date(`${date}T${from}:00Z`), hi = new Date(`${date}T${to}:00Z`);
    const a = lo < start ? start : lo, b = hi > end ? end : hi;
    if (b > a) slots.push({ start_at: a.toISOString().slice(0, 16), end_at: b.toISOString().slice(0, 16) });
  }
  return slots;
}

function audienceQuery(audience, channel, team) {
  const params = new URLSearchParams();
  for (const key of ["tags_any", "tags_all", "operator_code", "country"]) {
    const values = split(audience[key]);
    if (values.length) params.set(key, values.join(","));
  }
  if (audience.min_score !== "") params.set("min_score", audience.min_score);
  if (channel) params.set("channel", channel);
  if (team) params.set("team", team);
  return params.toString();
}

function AudienceCount({ audience, channel, team }) {
  const [result, setResult] = useState({ data: null, error: "" });
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    const timer = setTimeout(() => {
      api(`/api/campaigns/audience/?${audienceQuery(audience, channel, team)}`).then(
        (data) => { if (mine === seq.current) setResult({ data, error: "" }); },
        (error) => { if (mine === seq.current) setResult({ data: null, error: errorText(error) }); });
    }, 250);
    return () => clearTimeout(timer);
  }, [audienceQuery(audience, channel, team)]);
  const d = result.data;
  return html`<div class="mc-count" aria-live="polite" id="audience-count">
    ${result.error ? html`<span class="mc-error-text">${result.error}</span>` : d === null ? "Counting…" : html`
      <strong data-count=${d.matching}>${d.matching} contact${d.matching === 1 ? "" : "s"} match</strong>
      ${d.channel !== null && html` · <span data-reachable=${d.reachable}>${d.reachable} reachable on the channel</span>`}
      ${d.opted_out > 0 && html` · ${d.opted_out} opted out (left out)`}
      ${d.opted_out_channel > 0 && html` · ${d.opted_out_channel} opted out of this channel`}
      ${d.sample.length > 0 && html`<div class="mc-muted">Best leads: ${d.sample.map((c) => `${c.name} (${c.lead_score})`).join(", ")}</div>`}`}
  </div>`;
}

// Which of the channel's reps send the campaign: none ticked means every one of them.
function RepPool({ channel, chosen, setChosen }) {
  const toggle = (id) => (e) => setChosen(e.target.checked ? [...chosen, id] : chosen.filter((r) => r !== id));
  return html`<fieldset class="mc-group mc-wide" id="rep-pool"><legend>Rep pool</legend>
    <p class="mc-muted mc-wide" id="rep-pool-said">${chosen.length === 0
      ? "None ticked: sent by every rep of your team on the channel, spread by remaining capacity."
      : `Only ${channel.reps.filter((r) => chosen.includes(String(r.id))).map((r) => r.full_name).join(" and ")} ${chosen.length === 1 ? "sends" : "send"} it, spread by remaining capacity.`}</p>
    ${channel.reps.map((r) => html`<label key=${r.id}><input type="checkbox" checked=${chosen.includes(String(r.id))}
      onChange=${toggle(String(r.id))} /> ${r.full_name}${r.available ? "" : " (unavailable)"}</label>`)}
  </fieldset>`;
}

function Steps({ steps, setSteps, channels, templates }) {
  const update = (i, patch) => setSteps(steps.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  return html`<fieldset class="mc-day"><legend>Follow-up steps</legend>
    ${steps.length === 0 && html`<span class="mc-muted">none: one message per contact</span>`}
    ${steps.map((s, i) => html`<div class="mc-step" key=${i}>
      <label>After (hours) <input type="number" min="1" required value=${s.delay_hours} aria-label=${`Step ${i + 1} delay in hours`}
        onInput=${(e) => update(i, { delay_hours: e.target.value })} /></label>
      <label>Channel <select value=${s.channel} aria-label=${`Step ${i + 1} channel`} onChange=${(e) => update(i, { channel: e.target.value })}>
        <option value="">same channel</option>${channels.map((c) => html`<option value=${c.id}>${c.name}</option>`)}</select></label>
      <label>Stop on <select value=${s.stop_on} aria-label=${`Step ${i + 1} stops on`} onChange=${(e) => update(i, { stop_on: e.target.value })}>
        <option value="reply">a reply</option><option value="read">a read</option></select></label>
      <label>Template <select value=${s.template} aria-label=${`Step ${i + 1} template`} onChange=${(e) => update(i, { template: e.target.value })}>
        <option value="">none: free text</option>${templates.map((t) => html`<option value=${t.id}>${t.name}</option>`)}</select></label>
      ${!s.template && html`<label class="mc-wide">Text <textarea rows="2" required aria-label=${`Step ${i + 1} text`} value=${s.text}
        onInput=${(e) => update(i, { text: e.target.value })}></textarea></label>`}
      <button type="button" class="mc-button mc-quiet" aria-label=${`Remove step ${i + 1}`} onClick=${() => setSteps(steps.filter((_, j) => j !== i))}>Remove</button>
    </div>`)}
    <button type="button" class="mc-button mc-quiet" onClick=${() => setSteps([...steps, { delay_hours: 24, channel: "", stop_on: "reply", text: "", template: "" }])}>Add follow-up step</button>
  </fieldset>`;
}

export function CampaignBuilder({ options }) {
  const now = new Date();
  const [templates] = useLoad(() => api("/api/templates/?page_size=100").then((p) => p.results), []);
  const [f, setF] = useState(() => ({
    name: "", team: options.teams.length === 1 ? String(options.teams[0].id) : "",
    channel: options.channels.length ? String(options.channels[0].id) : "",
    audience: { tags_any: "", tags_all: "", country: "", operator_code: "", min_score: "" },
    mode: "text", text: "Hi {first_name}, ", template: "", variables: {},
    start_at: localInput(new Date(now.getFullYear(), now.getMonth(), now.getDate(), now.getHours())),
    end_at: localInput(new Date(now.getFullYear(), now.getMonth(), now.getDate() + 3, 18)),
    hours: false, from: "09:00", to: "18:00", daily_cap: "", steps: [], reps: [],
  }));
  const [error, setError] = useState("");
  const [saving, setSaving] = useState(false);
  const set = (key) => (e) => setF({ ...f, [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const setChannel = (e) => {  // the pool keeps only reps who work the new channel
    const next = options.channels.find((c) => String(c.id) === e.target.value);
    const working = new Set((next ? next.reps : []).map((r) => String(r.id)));
    setF({ ...f, channel: e.target.value, reps: f.reps.filter((r) => working.has(r)) });
  };
  const setAudience = (key) => (e) => setF({ ...f, audience: { ...f.audience, [key]: e.target.value } });
  const template = (templates || []).find((t) => String(t.id) === f.template);
  const used = f.mode === "template" ? (template ? template.variables : []) : placeholders(f.text);
  const stepTemplate = (s) => (templates || []).find((t) => String(t.id) === s.template);
  const stepVariables = f.steps.flatMap((s) => (s.template ? (stepTemplate(s) || { variables: [] }).variables : placeholders(s.text)));
  const own = [...new Set([...used, ...stepVariables])].filter((v) => !options.contact_variables.includes(v));
  const channel = options.channels.find((c) => String(c.id) === f.channel);
  const slots = f.hours ? dailySlots(f.start_at, f.end_at, f.from, f.to) : [];
  const submit = async (e) => {
    e.preventDefault();
    setSaving(true);
    const audience = {};
    for (const key of ["tags_any", "tags_all", "operator_code", "country"]) if (split(f.audience[key]).length) audience[key] = split(f.audience[key]);
    if (f.audience.min_score !== "") audience.min_score = Number(f.audience.min_score);
    const body = {
      name: f.name, channel: Number(f.channel), audience, start_at: f.start_at, end_at: f.end_at,
      text: f.mode === "text" ? f.text : "", template: f.mode === "template" && f.template ? Number(f.template) : null,
      variables: Object.fromEntries(own.map((v) => [v, f.variables[v] || ""])),
      daily_cap: f.daily_cap === "" ? null : Number(f.daily_cap), slots, reps: f.reps.map(Number),
      steps: f.steps.map((s, i) => ({ number: i + 1, delay_hours: Number(s.delay_hours), channel: s.channel ? Number(s.channel) : null,
        text: s.template ? "" : s.text, template: s.template ? Number(s.template) : null, stop_on: s.stop_on })),
    };
    if (f.team) body.team = Number(f.team);
    try {
      const campaign = await api("/api/campaigns/", { method: "POST", body });
      location.hash = `#campaigns/${campaign.id}`;
    } catch (err) { setError(errorText(err)); setSaving(false); }
  };
  return html`<form class="mc-card mc-builder" onSubmit=${submit} aria-labelledby="builder-title">
    <h2 id="builder-title">New campaign</h2>
    <${Field} id="c-name" label="Name"><input id="c-name" required maxlength="200" value=${f.name} onInput=${set("name")} /></${Field}>
    ${options.teams.length > 1 && html`<${Field} id="c-team" label="Team">
      <select id="c-team" value=${f.team} onChange=${set("team")}>
        <option value="">every team (admins)</option>${options.teams.map((t) => html`<option value=${t.id}>${t.name}</option>`)}</select></${Field}>`}

    <fieldset class="mc-group"><legend>Audience</legend>
      <datalist id="tag-options">${options.tags.map((t) => html`<option value=${t.name}>${t.contacts} contacts</option>`)}</datalist>
      <${Field} id="a-tags-any" label="Any of these tags" hint="Comma-separated">
        <input id="a-tags-any" list="tag-options" value=${f.audience.tags_any} onInput=${setAudience("tags_any")} /></${Field}>
      <${Field} id="a-tags-all" label="All of these tags"><input id="a-tags-all" list="tag-options" value=${f.audience.tags_all} onInput=${setAudience("tags_all")} /></${Field}>
      <${Field} id="a-country" label="Countries" hint=${options.countries.length ? `In your team: ${options.countries.join(", ")}` : "Two-letter codes"}>
        <input id="a-country" value=${f.audience.country} onInput=${setAudience("country")} /></${Field}>
      <${Field} id="a-operator" label="Operator codes"><input id="a-operator" value=${f.audience.operator_code} onInput=${setAudience("operator_code")} /></${Field}>
      <${Field} id="a-score" label="Lead score at least"><input id="a-score" type="number" value=${f.audience.min_score} onInput=${setAudience("min_score")} /></${Field}>
      <${AudienceCount} audience=${f.audience} channel=${f.channel} team=${f.team} />
    </fieldset>

    <fieldset class="mc-group"><legend>Channel and message</legend>
      <${Field} id="c-channel" label="Channel">
        <select id="c-channel" required value=${f.channel} onChange=${setChannel}>
          ${options.channels.map((c) => html`<option value=${c.id}>${c.name} (${c.kind})</option>`)}</select></${Field}>
      ${channel && html`<${RepPool} channel=${channel} chosen=${f.reps} setChosen=${(reps) => setF({ ...f, reps })} />`}
      <div class="mc-field mc-wide" role="radiogroup" aria-label="Message kind">
        <label><input type="radio" name="mode" value="text" checked=${f.mode === "text"} onChange=${set("mode")} /> Free text</label>
        <label><input type="radio" name="mode" value="template" checked=${f.mode === "template"} onChange=${set("mode")} /> Approved template</label>
      </div>
      ${f.mode === "text" && channel && channel.kind === "whatsapp" && html`<p class="mc-notice mc-info mc-wide" id="whatsapp-hint">WhatsApp takes free
        text only within 24 hours of the contact's last message; to anyone else it fails (whatsapp_24h_window). Choose an approved template.</p>`}
      ${f.mode === "text" ? html`<${Field} id="c-text" label="Message text" wide=${true} hint=${`Contact fields fill themselves: ${options.contact_variables.map((v) => `{${v}}`).join(" ")}`}>
          <textarea id="c-text" rows="3" required maxlength="4096" value=${f.text} onInput=${set("text")}></textarea></${Field}>`
        : html`<${Field} id="c-template" label="Message template" wide=${true}>
          <select id="c-template" required value=${f.template} onChange=${set("template")}>
            <option value="">Choose a template</option>${(templates || []).map((t) => html`<option value=${t.id}>${t.name}</option>`)}</select>
          ${template && html`<p class="mc-preview">${template.body}</p>`}</${Field}>`}
      ${own.length > 0 && html`<fieldset class="mc-group mc-wide"><legend>Variables</legend>
        ${own.map((v) => html`<${Field} key=${v} id=${`var-${v}`} label=${`Value for {${v}}`}>
          <input id=${`var-${v}`} required value=${f.variables[v] || ""} onInput=${(e) => setF({ ...f, variables: { ...f.variables, [v]: e.target.value } })} /></${Field}>`)}
      </fieldset>`}
    </fieldset>

    <fieldset class="mc-group"><legend>When</legend>
      <${Field} id="c-start" label="Window start" hint="Wall-clock time, applied in each contact's own time zone">
        <input id="c-start" type="datetime-local" required value=${f.start_at} onInput=${set("start_at")} /></${Field}>
      <${Field} id="c-end" label="Window end"><input id="c-end" type="datetime-local" required value=${f.end_at} onInput=${set("end_at")} /></${Field}>
      <div class="mc-field mc-wide"><label><input type="checkbox" checked=${f.hours} onChange=${set("hours")} /> Only send between these hours each day</label>
        ${f.hours && html`<span class="mc-row">
          <label>From <input type="time" required aria-label="Allowed from" value=${f.from} onInput=${set("from")} /></label>
          <label>to <input type="time" required aria-label="Allowed to" value=${f.to} onInput=${set("to")} /></label>
          <span class="mc-muted">${slots.length} sending slot${slots.length === 1 ? "" : "s"}; contacts' own allowed hours narrow them further</span></span>`}</div>
      <${Field} id="c-cap" label="Daily cap" hint="Campaign sends per day at most; empty for none">
        <input id="c-cap" type="number" min="1" value=${f.daily_cap} onInput=${set("daily_cap")} /></${Field}>
    </fieldset>

    <${Steps} steps=${f.steps} setSteps=${(steps) => setF({ ...f, steps })} channels=${options.channels} templates=${templates || []} />
    <${Notice} message=${error} kind="error" id="builder-error" />
    <p><button type="submit" class="mc-button" disabled=${saving}>Save draft</button> <a href="#campaigns">Back to campaigns</a></p>
  </form>`;
}
