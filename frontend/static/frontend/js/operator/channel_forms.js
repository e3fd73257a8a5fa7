// A channel's forms on its page: settings, write-only secrets, and its reps' sandbox and availability switches.
import { html, useState, api, errorText, useLoad, Notice, Field, Scroll } from "./ui.js";

function numberOrNull(value) {
  return value === "" || value === null || value === undefined ? null : Number(value);
}

export function ChannelSettings({ channel, teams, platform, onSaved }) {
  const initial = () => ({ name: channel.name, routing_key: channel.routing_key, team: channel.team ?? "", is_active: channel.is_active,
    description: channel.description, internal_url: channel.internal_url, rate_limit_per_hour: channel.rate_limit_per_hour ?? "",
    rate_limit_per_day: channel.rate_limit_per_day ?? "", config: JSON.stringify(channel.config || {}, null, 2) });
  const [form, setForm] = useState(initial);
  const [said, setSaid] = useState({ message: "", kind: "info" });
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const save = async (e) => {
    e.preventDefault();
    let config;
    try { config = JSON.parse(form.config || "{}"); } catch (_) { setSaid({ message: "Configuration is not valid JSON.", kind: "error" }); return; }
    try {
      await api(`/api/channels/${channel.id}/`, { method: "PATCH", body: { ...form, config, team: numberOrNull(form.team),
        rate_limit_per_hour: numberOrNull(form.rate_limit_per_hour), rate_limit_per_day: numberOrNull(form.rate_limit_per_day) } });
      setSaid({ message: "Saved.", kind: "info" });
      onSaved();
    } catch (err) { setSaid({ message: errorText(err), kind: "error" }); }
  };
  return html`<section class="op-card" aria-labelledby="settings-title">
    <h2 id="settings-title">Settings</h2>
    <form onSubmit=${save}>
      <${Field} id="ch-name" label="Name"><input id="ch-name" required maxlength="100" value=${form.name} onInput=${set("name")} /></${Field}>
      <${Field} id="ch-routing" label="Routing key" hint=${platform.routing_key}>
        <input id="ch-routing" maxlength="200" value=${form.routing_key} onInput=${set("routing_key")} aria-describedby="ch-routing-hint" /></${Field}>
      <${Field} id="ch-team" label="Team"><select id="ch-team" value=${form.team} onChange=${set("team")}>
        <option value="">No team</option>${teams.map((t) => html`<option value=${t.id}>${t.name}</option>`)}</select></${Field}>
      <${Field} id="ch-description" label="Description"><textarea id="ch-description" rows="2" value=${form.description} onInput=${set("description")}></textarea></${Field}>
      ${channel.kind === "service" && html`<${Field} id="ch-internal" label="Internal URL of the channel service">
        <input id="ch-internal" type="url" value=${form.internal_url} onInput=${set("internal_url")} /></${Field}>`}
      <div class="op-pair">
        <${Field} id="ch-hour" label="Sends per hour (channel)"><input id="ch-hour" type="number" min="0" value=${form.rate_limit_per_hour} onInput=${set("rate_limit_per_hour")} /></${Field}>
        <${Field} id="ch-day" label="Sends per day (channel)"><input id="ch-day" type="number" min="0" value=${form.rate_limit_per_day} onInput=${set("rate_limit_per_day")} /></${Field}>
      </div>
      <${Field} id="ch-config" label="Configuration (JSON, not secret)" hint="e.g. from_number, address, sender name">
        <textarea id="ch-config" rows="4" class="op-mono" value=${form.config} onInput=${set("config")} aria-describedby="ch-config-hint"></textarea></${Field}>
      <label class="op-check"><input type="checkbox" checked=${form.is_active} onChange=${set("is_active")} /> Active (inactive channels take no webhooks and send nothing)</label>
      <${Notice} message=${said.message} kind=${said.kind} />
      <button type="submit" class="op-button op-primary">Save settings</button>
    </form></section>`;
}

export function SecretsForm({ channel, platform, onSaved }) {
  const [values, setValues] = useState({});
  const [remove, setRemove] = useState({});
  const [said, setSaid] = useState({ message: "", kind: "info" });
  const stored = new Set(channel.secret_fields_set || []);
  const save = async (e) => {
    e.preventDefault();
    const secrets = {};
    for (const name of platform.secret_names) {
      if (remove[name]) secrets[name] = null;
      else if (values[name]) secrets[name] = values[name];
    }
    if (!Object.keys(secrets).length) { setSaid({ message: "Type a new value or tick Remove first.", kind: "error" }); return; }
    try {
      await api(`/api/channels/${channel.id}/`, { method: "PATCH", body: { secrets } });
      setValues({}); setRemove({});
      setSaid({ message: `Saved: ${Object.keys(secrets).join(", ")}.`, kind: "info" });
      onSaved();
    } catch (err) { setSaid({ message: errorText(err), kind: "error" }); }
  };
  return html`<section class="op-card" aria-labelledby="secrets-title">
    <h2 id="secrets-title">Secrets</h2>
    <p class="op-muted">Write-only: a stored secret is never shown. Leave a field blank to keep it.</p>
    <form onSubmit=${save}>
      ${platform.secret_names.map((name) => html`<div class="op-secret">
        <${Field} id=${`secret-${name}`} label=${`${name} (${stored.has(name) ? "stored" : "not set"})`}>
          <input id=${`secret-${name}`} type="password" autocomplete="new-password" value=${values[name] || ""}
            placeholder=${stored.has(name) ? "•••••• (stored)" : ""} onInput=${(e) => setValues({ ...values, [name]: e.target.value })} /></${Field}>
        ${stored.has(name) && html`<label class="op-check"><input type="checkbox" checked=${!!remove[name]}
            onChange=${(e) => setRemove({ ...remove, [name]: e.target.checked })} /> Remove ${name}</label>`}
      </div>`)}
      <${Notice} message=${said.message} kind=${said.kind} />
      <button type="submit" class="op-button op-primary">Save secrets</button>
    </form></section>`;
}

export function RepChannels({ channel }) {
  const [rows, error, reload] = useLoad(() => api(`/api/operator/channels/${channel.id}/rep-channels/`), [channel.id]);
  const [said, setSaid] = useState({ message: "", kind: "info" });
  const toggle = async (rc, field, value) => {
    try {
      await api(`/api/operator/rep-channels/${rc.id}/`, { method: "PATCH", body: { [field]: value } });
      setSaid({ message: `${rc.rep_name}: ${field === "sandbox" ? (value ? "sandbox on" : "sandbox off — sends go to the platform") : (value ? "available" : "unavailable")}.`, kind: "info" });
    } catch (err) { setSaid({ message: errorText(err), kind: "error" }); }
    reload();
  };
  return html`<section class="op-card" aria-labelledby="reps-title">
    <h2 id="reps-title">Reps on this channel</h2>
    <p class="op-muted">Sandbox: the whole rules path runs and the attempt is recorded, with no call to the platform.</p>
    <${Notice} message=${error} kind="error" /><${Notice} message=${said.message} kind=${said.kind} />
    ${rows && (rows.results.length === 0 ? html`<p>No rep works this channel yet (add one in the Django admin's rep page).</p>` : html`
    <${Scroll} label="Table of reps on this channel"><table class="op-table">
      <thead><tr><th scope="col">Rep</th><th scope="col">Sandbox</th><th scope="col">Available</th><th scope="col">Daily max</th></tr></thead>
      <tbody>${rows.results.map((rc) => html`<tr key=${rc.id}>
        <td>${rc.rep_name}</td>
        <td><input type="checkbox" checked=${rc.sandbox} aria-label=${`Sandbox for ${rc.rep_name}`} onChange=${(e) => toggle(rc, "sandbox", e.target.checked)} /></td>
        <td><input type="checkbox" checked=${rc.is_available} aria-label=${`${rc.rep_name} available on this channel`} onChange=${(e) => toggle(rc, "is_available", e.target.checked)} /></td>
        <td>${rc.max_daily_capacity}</td></tr>`)}</tbody></table></${Scroll}>`)}
  </section>`;
}
