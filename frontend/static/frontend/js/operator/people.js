// Reps and teams (admins): add a rep with their login, change role and team, switch sign-in off and on; teams.
import { html, useState, api, errorText, useLoad, Notice, Field, CopyField, mount, Scroll } from "./ui.js";

const ROLES = ["rep", "manager"];

function RepRow({ rep, teams, onChanged, say }) {
  const change = async (body, what) => {
    try {
      await api(`/api/operator/reps/${rep.id}/`, { method: "PATCH", body });
      say({ message: `${rep.full_name}: ${what}.`, kind: "info" });
    } catch (err) { say({ message: errorText(err), kind: "error" }); }
    onChanged();
  };
  return html`<tr data-rep=${rep.id} class=${rep.is_active ? "" : "op-muted"}>
    <td>${rep.full_name}<br /><span class="op-muted op-mono">${rep.username}</span></td>
    <td><select aria-label=${`Role of ${rep.full_name}`} value=${rep.role} onChange=${(e) => change({ role: e.target.value }, `role ${e.target.value}`)}>
      ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select></td>
    <td><select aria-label=${`Team of ${rep.full_name}`} value=${rep.team ?? ""}
        onChange=${(e) => change({ team: e.target.value ? Number(e.target.value) : null }, `team ${e.target.selectedOptions[0].text}`)}>
      <option value="">No team</option>${teams.map((t) => html`<option value=${t.id}>${t.name}</option>`)}</select></td>
    <td>${rep.is_active ? "active" : "deactivated"}</td>
    <td><button type="button" class=${`op-button ${rep.is_active ? "op-danger" : ""}`}
        onClick=${() => change({ is_active: !rep.is_active }, rep.is_active ? "deactivated (can no longer sign in)" : "reactivated")}>
      ${rep.is_active ? "Deactivate" : "Reactivate"}<span class="op-sr"> ${rep.full_name}</span></button></td>
  </tr>`;
}

function NewRep({ teams, onCreated }) {
  const empty = { username: "", full_name: "", email: "", role: "rep", team: "", password: "" };
  const [form, setForm] = useState(empty);
  const [error, setError] = useState("");
  const [created, setCreated] = useState(null);
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError(""); setCreated(null);
    try {
      const rep = await api("/api/operator/reps/", { method: "POST", body: { ...form, team: form.team ? Number(form.team) : null } });
      setCreated(rep); setForm(empty); onCreated();
    } catch (err) { setError(errorText(err)); }
  };
  return html`<section class="op-card" aria-labelledby="new-rep-title">
    <h2 id="new-rep-title">Add a rep</h2>
    <form onSubmit=${submit}>
      <${Field} id="rep-username" label="Username"><input id="rep-username" required maxlength="150" autocomplete="off" value=${form.username} onInput=${set("username")} /></${Field}>
      <${Field} id="rep-name" label="Full name"><input id="rep-name" required maxlength="200" value=${form.full_name} onInput=${set("full_name")} /></${Field}>
      <${Field} id="rep-email" label="E-mail (optional)"><input id="rep-email" type="email" value=${form.email} onInput=${set("email")} /></${Field}>
      <div class="op-pair">
        <${Field} id="rep-role" label="Role"><select id="rep-role" value=${form.role} onChange=${set("role")}>${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select></${Field}>
        <${Field} id="rep-team" label="Team"><select id="rep-team" value=${form.team} onChange=${set("team")}>
          <option value="">No team</option>${teams.map((t) => html`<option value=${t.id}>${t.name}</option>`)}</select></${Field}>
      </div>
      <${Field} id="rep-password" label="Initial password (optional)" hint="Blank: one is generated and shown once, to hand to the rep.">
        <input id="rep-password" type="password" autocomplete="new-password" value=${form.password} onInput=${set("password")} aria-describedby="rep-password-hint" /></${Field}>
      <${Notice} message=${error} kind="error" />
      <button type="submit" class="op-button op-primary">Add rep</button>
    </form>
    ${created && html`<div class="op-notice op-good" role="status">
      <p>${created.full_name} can sign in as <strong class="op-mono">${created.username}</strong>.</p>
      ${created.initial_password && html`<${CopyField} id="initial-password" label="Initial password (shown once)" value=${created.initial_password} />`}
    </div>`}
  </section>`;
}

function Teams({ teams, onChanged }) {
  const [name, setName] = useState("");
  const [said, setSaid] = useState({ message: "", kind: "info" });
  const submit = async (e) => {
    e.preventDefault();
    try {
      const team = await api("/api/operator/teams/", { method: "POST", body: { name } });
      setSaid({ message: `Team ${team.name} created.`, kind: "info" }); setName(""); onChanged();
    } catch (err) { setSaid({ message: errorText(err), kind: "error" }); }
  };
  return html`<section class="op-card" aria-labelledby="teams-title">
    <h2 id="teams-title">Teams</h2>
    ${teams.length === 0 ? html`<p>No team yet.</p>` : html`<ul>${teams.map((t) => html`<li key=${t.id}>${t.name} <span class="op-muted">(${t.reps} ${t.reps === 1 ? "rep" : "reps"})</span></li>`)}</ul>`}
    <form onSubmit=${submit} class="op-inline">
      <label for="team-name">New team</label>
      <input id="team-name" required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
      <button type="submit" class="op-button op-primary">Create team</button>
    </form>
    <${Notice} message=${said.message} kind=${said.kind} />
  </section>`;
}

function App() {
  const [data, error, reload] = useLoad(() => Promise.all([api("/api/operator/reps/"), api("/api/operator/teams/")]));
  const [said, say] = useState({ message: "", kind: "info" });
  if (!data) return html`<${Notice} message=${error} kind="error" />${!error && html`<p class="op-muted">Loading…</p>`}`;
  const [reps, teams] = [data[0].results, data[1].results];
  return html`
    <h1>Reps and teams</h1>
    <${Notice} message=${error} kind="error" />
    <div class="op-grid">
      <section class="op-card op-wide" aria-labelledby="reps-title">
        <h2 id="reps-title">Reps</h2>
        <p class="op-muted">A role or team change takes effect at once: the rep's open inbox reconnects with what they may now see.
          Deactivated reps cannot sign in; their conversations stay.</p>
        <${Notice} message=${said.message} kind=${said.kind} />
        <${Scroll} label="Table of reps"><table class="op-table" id="reps">
          <thead><tr><th scope="col">Rep</th><th scope="col">Role</th><th scope="col">Team</th><th scope="col">Sign-in</th><th scope="col"><span class="op-sr">Action</span></th></tr></thead>
          <tbody>${reps.map((rep) => html`<${RepRow} key=${rep.id} rep=${rep} teams=${teams} onChanged=${reload} say=${say} />`)}</tbody>
        </table></${Scroll}>
      </section>
      <${NewRep} teams=${teams} onCreated=${reload} />
      <${Teams} teams=${teams} onChanged=${reload} />
    </div>`;
}

mount(App);
