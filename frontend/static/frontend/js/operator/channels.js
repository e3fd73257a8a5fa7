// Channels (admins): the list, a new channel, and one channel's page — what to paste into the platform,
// a signed test event, the last webhook events with re-drive, settings, write-only secrets, reps' sandbox.
import { html, useState, useEffect, api, errorText, useLoad, Notice, CopyField, Field, StateBadge, timeLabel, mount, Scroll } from "./ui.js";
import { ChannelSettings, SecretsForm, RepChannels } from "./channel_forms.js";

const KINDS = ["whatsapp", "messenger", "instagram", "sms", "email", "service"];

function ChannelList({ platforms, teams }) {
  const [channels, error, reload] = useLoad(() => api("/api/channels/"));
  const list = channels ? (channels.results || channels) : null;
  return html`
    <h1>Channels</h1>
    <p class="op-muted">A channel is one platform connection. Open one to see the webhook URL to paste into the
      platform, send it a signed test event and read what its last webhooks did.</p>
    <${Notice} message=${error} kind="error" />
    <div class="op-grid">
      <section class="op-card" aria-labelledby="list-title">
        <h2 id="list-title">All channels</h2>
        ${list === null ? html`<p class="op-muted">Loading…</p>` : list.length === 0 ? html`<p>No channel yet: create one.</p>` : html`
        <${Scroll} label="Table of channels"><table class="op-table">
          <thead><tr><th scope="col">Name</th><th scope="col">Platform</th><th scope="col">Routing key</th><th scope="col">Active</th></tr></thead>
          <tbody>${list.map((c) => html`<tr key=${c.id}>
            <td><a href=${`/operator/channels/${c.id}/`}>${c.name}</a></td><td>${c.kind}</td>
            <td class="op-mono">${c.routing_key || "–"}</td><td>${c.is_active ? "yes" : "no"}</td></tr>`)}</tbody>
        </table></${Scroll}>`}
      </section>
      <${NewChannel} platforms=${platforms} teams=${teams} onCreated=${reload} />
    </div>`;
}

function NewChannel({ platforms, teams }) {
  const [form, setForm] = useState({ name: "", kind: "whatsapp", routing_key: "", team: "", is_active: true });
  const [secrets, setSecrets] = useState({});
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const platform = platforms.find((p) => p.kind === form.kind) || { secret_names: [], routing_key: "" };
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError("");
    const given = Object.fromEntries(Object.entries(secrets).filter(([name, v]) => v && platform.secret_names.includes(name)));
    try {
      const channel = await api("/api/channels/", { method: "POST", body: {
        ...form, team: form.team ? Number(form.team) : null, activities: ["message"], secrets: given } });
      window.location.assign(`/operator/channels/${channel.id}/`);
    } catch (err) { setError(errorText(err)); setBusy(false); }
  };
  return html`<section class="op-card" aria-labelledby="new-title">
    <h2 id="new-title">New channel</h2>
    <form onSubmit=${submit}>
      <${Field} id="new-name" label="Name"><input id="new-name" required maxlength="100" value=${form.name} onInput=${set("name")} /></${Field}>
      <${Field} id="new-kind" label="Platform"><select id="new-kind" value=${form.kind} onChange=${set("kind")}>
        ${KINDS.map((k) => html`<option value=${k}>${k}</option>`)}</select></${Field}>
      <${Field} id="new-routing" label="Routing key" hint=${platform.routing_key}>
        <input id="new-routing" maxlength="200" value=${form.routing_key} onInput=${set("routing_key")} aria-describedby="new-routing-hint" /></${Field}>
      <${Field} id="new-team" label="Team"><select id="new-team" value=${form.team} onChange=${set("team")}>
        <option value="">No team</option>${teams.map((t) => html`<option value=${t.id}>${t.name}</option>`)}</select></${Field}>
      <fieldset class="op-fieldset"><legend>Secrets (write-only: never shown again)</legend>
        ${platform.secret_names.map((name) => html`<${Field} id=${`new-secret-${name}`} label=${name}>
          <input id=${`new-secret-${name}`} type="password" autocomplete="new-password" value=${secrets[name] || ""}
            onInput=${(e) => setSecrets({ ...secrets, [name]: e.target.value })} /></${Field}>`)}
      </fieldset>
      <label class="op-check"><input type="checkbox" checked=${form.is_active} onChange=${set("is_active")} /> Active</label>
      <${Notice} message=${error} kind="error" />
      <button type="submit" class="op-button op-primary" disabled=${busy}>Create channel</button>
    </form></section>`;
}

function Connect({ channel, info, reloadInfo }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const generate = async () => {
    if (info.verify_token_set && !window.confirm("Replace the stored verify token? The platform's subscription check will need the new one.")) return;
    try { setToken((await api(`/api/operator/channels/${channel.id}/verify-token/`, { method: "POST" })).verify_token); reloadInfo(); }
    catch (err) { setError(errorText(err)); }
  };
  const local = /^https?:\/\/(127\.|localhost|\[::1\])/.test(info.url);
  return html`<section class="op-card" aria-labelledby="connect-title">
    <h2 id="connect-title">Connect ${channel.kind}</h2>
    <${CopyField} id="webhook-url" label="Webhook URL" value=${info.url} />
    ${local && html`<p class="op-warn">This address is local: a platform cannot reach it. Set PUBLIC_BASE_URL to the public origin (https://…) the platform calls.</p>`}
    ${info.handshake && html`<div class="op-field"><span class="op-label">Verify token</span>
      ${token ? html`<${CopyField} id="verify-token" label="New verify token (shown once)" value=${token} />`
              : html`<p>${info.verify_token_set ? "Set (secrets are never shown again)." : "Not set: the platform's subscription check will fail."}
                  ${" "}<button type="button" class="op-button" onClick=${generate}>${info.verify_token_set ? "Generate a new one" : "Generate one"}</button></p>`}
    </div>`}
    ${info.channel_header && html`<${CopyField} id="channel-header" label="X-Switchboard-Channel header" value=${info.channel_header} />`}
    <p><span class="op-label">Routing key</span> <span class="op-mono">${info.routing_key || "not set"}</span></p>
    <p><span class="op-label">Signing secret</span> ${info.signing_secret_names.join(" or ")}: ${info.signing_secret_set ? "set" : html`<strong class="op-bad">not set — webhooks will be refused</strong>`}</p>
    <p class="op-setup">${info.setup}</p>
    <${Notice} message=${error} kind="error" />
  </section>`;
}

function TestEvent({ channel, onSent }) {
  const [text, setText] = useState("Test event from Switchboard's channel page");
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (e) => {
    e.preventDefault();
    setBusy(true); setResult(null);
    try {
      const answer = await api(`/api/operator/channels/${channel.id}/test-event/`, { method: "POST", body: { text } });
      setResult({ ok: answer.ok, message: `${answer.ok ? "Delivered" : "Failed"}: ${answer.detail}` +
        (answer.ok ? "" : channel.is_active ? "" : " (the channel is inactive: inactive channels take no webhooks)") });
      onSent();
    } catch (err) { setResult({ ok: false, message: errorText(err) }); }
    setBusy(false);
  };
  return html`<section class="op-card" aria-labelledby="test-title">
    <h2 id="test-title">Test the webhook</h2>
    <p class="op-muted">Signs a sample inbound message with this channel's own secret, as ${channel.kind} would, and posts it
      to the webhook URL. Its message then reaches the inbox from "Demo Contact".</p>
    <form onSubmit=${send} class="op-inline">
      <label for="test-text">Message</label>
      <input id="test-text" maxlength="4096" required value=${text} onInput=${(e) => setText(e.target.value)} />
      <button type="submit" class="op-button op-primary" disabled=${busy}>${busy ? "Sending…" : "Send test event"}</button>
    </form>
    ${result && html`<p id="test-result" class=${`op-notice ${result.ok ? "op-good" : "op-error"}`} role="status">${result.message}</p>`}
  </section>`;
}

function Events({ channel, version }) {
  const [events, error, reload] = useLoad(() => api(`/api/operator/channels/${channel.id}/webhook-events/?limit=25`), [channel.id, version]);
  const [said, setSaid] = useState("");
  const pending = events && events.results.some((e) => e.state === "received");
  useEffect(() => {  // processing takes a moment: look again while an event waits
    if (!pending) return undefined;
    const timer = setTimeout(reload, 1000);
    return () => clearTimeout(timer);
  }, [events]);
  const redrive = async (event) => {
    setSaid("");
    try {
      const answer = await api(`/api/operator/webhook-events/${event.id}/redrive/`, { method: "POST" });
      setSaid(`Event ${event.id} re-driven: now ${answer.state}${answer.error ? ` (${answer.error})` : ""}.`);
    } catch (err) { setSaid(errorText(err)); }
    reload();
  };
  return html`<section class="op-card op-wide" aria-labelledby="events-title">
    <h2 id="events-title">Last webhook events</h2>
    <p class="op-muted">This channel's events, with those of ${channel.kind} no channel took (unrouted: no channel has the
      routing key, or it was signed with another channel's secret). Fix the channel, then re-drive.</p>
    <button type="button" class="op-button" onClick=${reload}>Refresh</button>
    <${Notice} message=${error} kind="error" /><${Notice} message=${said} />
    ${events && (events.results.length === 0 ? html`<p>No webhook has arrived yet.</p>` : html`
    <${Scroll} label="Table of webhook events"><table class="op-table op-stack" id="events">
      <thead><tr><th scope="col">#</th><th scope="col">Received</th><th scope="col">State</th><th scope="col">What</th><th scope="col">Error</th><th scope="col"><span class="op-sr">Action</span></th></tr></thead>
      <tbody>${events.results.map((e) => html`<tr key=${e.id} data-event=${e.id} data-state=${e.unrouted ? "unrouted" : e.state}>
        <td>${e.id}</td><td>${timeLabel(e.received_at)}</td><td><${StateBadge} state=${e.state} unrouted=${e.unrouted} /></td>
        <td class="op-summary">${e.summary}</td><td class="op-errortext">${e.error || ""}${e.attempts > 1 ? ` (${e.attempts} attempts)` : ""}</td>
        <td>${e.redrivable && html`<button type="button" class="op-button" onClick=${() => redrive(e)} aria-label=${`Re-drive event ${e.id}`}>Re-drive</button>`}</td>
      </tr>`)}</tbody></table></${Scroll}>`)}
  </section>`;
}

function ChannelPage({ channelId, platforms, teams }) {
  const [channel, error, reloadChannel] = useLoad(() => api(`/api/channels/${channelId}/`), [channelId]);
  const [info, infoError, reloadInfo] = useLoad(() => api(`/api/operator/channels/${channelId}/webhook/`), [channelId]);
  const [version, setVersion] = useState(0);
  const reload = () => { reloadChannel(); reloadInfo(); };
  if (!channel) return html`<${Notice} message=${error || infoError} kind="error" />${!error && html`<p class="op-muted">Loading…</p>`}`;
  const platform = platforms.find((p) => p.kind === channel.kind) || { secret_names: [], routing_key: "" };
  return html`
    <p><a href="/operator/channels/">← All channels</a></p>
    <h1>${channel.name} <span class="op-muted">· ${channel.kind}${channel.is_active ? "" : " · inactive"}</span></h1>
    <${Notice} message=${error || infoError} kind="error" />
    <div class="op-grid">
      ${info && html`<${Connect} channel=${channel} info=${info} reloadInfo=${reloadInfo} />`}
      <${TestEvent} channel=${channel} onSent=${() => setVersion(version + 1)} />
      <${Events} channel=${channel} version=${version} />
      <${ChannelSettings} channel=${channel} teams=${teams} platform=${platform} onSaved=${reload} />
      <${SecretsForm} channel=${channel} platform=${platform} onSaved=${reload} />
      <${RepChannels} channel=${channel} />
    </div>`;
}

function App({ channelId }) {
  const [meta, error] = useLoad(() => Promise.all([api("/api/operator/platforms/"), api("/api/operator/teams/")]));
  if (!meta) return html`<${Notice} message=${error} kind="error" />${!error && html`<p class="op-muted">Loading…</p>`}`;
  const [platforms, teams] = [meta[0].results, meta[1].results];
  return channelId ? html`<${ChannelPage} channelId=${channelId} platforms=${platforms} teams=${teams} />`
                   : html`<${ChannelList} platforms=${platforms} teams=${teams} />`;
}

mount(App, { channelId: document.getElementById("app").dataset.channelId });
