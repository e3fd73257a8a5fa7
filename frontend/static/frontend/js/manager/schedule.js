// A rep's weekly schedule: windows per weekday (split shifts, windows crossing midnight), time off,
// the time zone; saving replaces the document (PUT /api/reps/<id>/schedule/) and says what changed today.
// Date overrides (dated shifts and days off, /api/reps/<id>/shifts/) are added and deleted beside it,
// each change saying what it changed today too.
import { html, useState, useEffect, api, errorText, Notice, Field, useLoad, when } from "./ui.js";
import { Capacities } from "./capacity.js";

export const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const hhmm = (t) => (t || "").slice(0, 5);
const minutes = (t) => { const [h, m] = hhmm(t).split(":").map(Number); return h * 60 + (m || 0); };

function form(doc) {
  return {
    timezone: doc.timezone,
    week: doc.week.map((w) => ({ weekday: w.weekday, start: hhmm(w.start), end: hhmm(w.end), activity: w.activity || "" })),
    time_off: doc.time_off.map((t) => ({ ...t, reason: t.reason || "" })),
  };
}

// The week as a picture: one band per weekday over 24 hours (the inputs below are what a keyboard uses).
function WeekPicture({ week }) {
  return html`<div class="mc-week" aria-hidden="true">
    <div class="mc-week-hours">${[0, 6, 12, 18, 24].map((h) => html`<span style=${`left:${(h / 24) * 100}%`}>${h}</span>`)}</div>
    ${WEEKDAYS.map((name, day) => html`<div class="mc-week-row" key=${name}><span class="mc-week-day">${name.slice(0, 3)}</span>
      <div class="mc-week-band">${week.filter((w) => w.weekday === day && w.start && w.end).flatMap((w) => {
        const a = minutes(w.start), b = minutes(w.end);
        const parts = b > a ? [[a, b]] : [[a, 1440]];  // crossing midnight: drawn to the end of its own day
        return parts.map(([x, y]) => html`<i class=${w.activity ? "mc-win-act" : ""} style=${`left:${(x / 1440) * 100}%;width:${((y - x) / 1440) * 100}%`}
          title=${`${w.start}–${w.end}${w.activity ? ` (${w.activity})` : ""}`}></i>`);
      })}</div></div>`)}
  </div>`;
}

function windowsText(day) {
  if (!day) return "–";
  if (day.day_off) return `day off${day.off_reason ? ` (${day.off_reason})` : ""}`;
  return day.windows.length ? day.windows.map((w) => `${hhmm(w.start)}–${hhmm(w.end)}`).join(", ") : "no window";
}

// What the save changed for today, in the rep's zone and on each channel.
export function todayChanges(before, after) {
  const rows = [];
  const compare = (what, a, b) => rows.push({ what, before: a, after: b, changed: a !== b });
  compare("Today's windows", windowsText(before), windowsText(after));
  compare("Open now", before.open_now ? "yes" : "no", after.open_now ? "yes" : "no");
  compare("Next opening", before.next_opening_local || "–", after.next_opening_local || "–");
  for (const ch of after.channels) {
    const old = before.channels.find((c) => c.rep_channel_id === ch.rep_channel_id);
    compare(`${ch.channel}: windows`, windowsText(old), windowsText(ch));
    compare(`${ch.channel}: open now`, old && old.open_now ? "yes" : "no", ch.open_now ? "yes" : "no");
  }
  return rows;
}

function Changes({ rows, id = "schedule-changes", title = "Saved. What changes today" }) {
  const changed = rows.filter((r) => r.changed);
  return html`<section id=${id} class="mc-changes" aria-labelledby=${`${id}-title`} role="status">
    <h3 id=${`${id}-title`}>${title}</h3>
    ${changed.length === 0 ? html`<p>Nothing changes today; later days follow the new week.</p>` : html`
    <table class="mc-table"><thead><tr><th scope="col">What</th><th scope="col">Before</th><th scope="col">Now</th></tr></thead>
      <tbody>${changed.map((r) => html`<tr key=${r.what}><th scope="row">${r.what}</th><td>${r.before}</td><td>${r.after}</td></tr>`)}</tbody></table>`}
  </section>`;
}

function DayRow({ day, name, windows, activities, update, remove, add }) {
  return html`<fieldset class="mc-day">
    <legend>${name}</legend>
    ${windows.length === 0 && html`<span class="mc-muted">day off</span>`}
    ${windows.map(({ w, index }, n) => html`<div class="mc-window" key=${index}>
      <label>From <input type="time" required aria-label=${`${name} window ${n + 1} start`} value=${w.start}
        onInput=${(e) => update(index, { start: e.target.value })} /></label>
      <label>to <input type="time" required aria-label=${`${name} window ${n + 1} end`} value=${w.end}
        onInput=${(e) => update(index, { end: e.target.value })} /></label>
      ${w.start && w.end && minutes(w.end) <= minutes(w.start) && html`<span class="mc-muted">crosses midnight</span>`}
      <label>for <select aria-label=${`${name} window ${n + 1} activity`} value=${w.activity}
        onChange=${(e) => update(index, { activity: e.target.value })}>
        <option value="">every activity</option>${activities.map((a) => html`<option value=${a}>${a}</option>`)}</select></label>
      <button type="button" class="mc-button mc-quiet" aria-label=${`Remove ${name} window ${n + 1}`} onClick=${() => remove(index)}>Remove</button>
    </div>`)}
    <button type="button" class="mc-button mc-quiet" onClick=${() => add(day)}>Add window<span class="sr-only"> on ${name}</span></button>
  </fieldset>`;
}

function WeekEditor({ rep, doc, activities, onSaved }) {
  const [state, setState] = useState(() => form(doc));
  const [error, setError] = useState("");
  const [changes, setChanges] = useState(null);
  const [saving, setSaving] = useState(false);
  // A new rep or a save resets the form; a date override changing only `today` keeps unsaved edits.
  useEffect(() => { setState(form(doc)); }, [doc.timezone, doc.week, doc.time_off]);
  const setWeek = (week) => setState({ ...state, week });
  const update = (i, patch) => setWeek(state.week.map((w, j) => (j === i ? { ...w, ...patch } : w)));
  const remove = (i) => setWeek(state.week.filter((_, j) => j !== i));
  const add = (day) => setWeek([...state.week, { weekday: day, start: "09:00", end: "17:00", activity: "" }]);
  const copyMonday = () => setWeek([...state.week.filter((w) => w.weekday === 0 || w.weekday > 4),
    ...[1, 2, 3, 4].flatMap((d) => state.week.filter((w) => w.weekday === 0).map((w) => ({ ...w, weekday: d })))]);
  const setOff = (i, patch) => setState({ ...state, time_off: state.time_off.map((t, j) => (j === i ? { ...t, ...patch } : t)) });
  const save = async (e) => {
    e.preventDefault();
    setSaving(true);
    try {
      const saved = await api(`/api/reps/${rep.id}/schedule/`, { method: "PUT", body: state });
      setChanges(todayChanges(doc.today, saved.today));
      setError("");
      onSaved(saved);
    } catch (err) { setError(errorText(err)); setChanges(null); }
    setSaving(false);
  };
  return html`<form class="mc-card" onSubmit=${save} aria-labelledby="week-title">
    <h2 id="week-title">Weekly schedule of ${rep.full_name}</h2>
    <p class="mc-muted">Times are local to the rep's zone; a window ending before it starts crosses midnight and
      belongs to the day it starts. A day without windows is a day off. Channel and activity hours narrow these.</p>
    <${Field} id="sched-tz" label="Time zone" hint="An IANA name, e.g. Europe/Lisbon">
      <input id="sched-tz" required value=${state.timezone} onInput=${(e) => setState({ ...state, timezone: e.target.value })} /></${Field}>
    <${WeekPicture} week=${state.week} />
    <div class="mc-days">
      ${WEEKDAYS.map((name, day) => html`<${DayRow} key=${name} day=${day} name=${name} activities=${activities}
        windows=${state.week.map((w, index) => ({ w, index })).filter(({ w }) => w.weekday === day)}
        update=${update} remove=${remove} add=${add} />`)}
    </div>
    <p><button type="button" class="mc-button mc-quiet" onClick=${copyMonday}>Copy Monday to Tuesday–Friday</button></p>
    <fieldset class="mc-day"><legend>Time off</legend>
      ${state.time_off.length === 0 && html`<span class="mc-muted">none planned</span>`}
      ${state.time_off.map((t, i) => html`<div class="mc-window" key=${i}>
        <label>First day <input type="date" required value=${t.first_day} aria-label=${`Time off ${i + 1} first day`} onInput=${(e) => setOff(i, { first_day: e.target.value })} /></label>
        <label>Last day <input type="date" required value=${t.last_day} aria-label=${`Time off ${i + 1} last day`} onInput=${(e) => setOff(i, { last_day: e.target.value })} /></label>
        <label>Reason <input value=${t.reason} maxlength="200" aria-label=${`Time off ${i + 1} reason`} onInput=${(e) => setOff(i, { reason: e.target.value })} /></label>
        <button type="button" class="mc-button mc-quiet" aria-label=${`Remove time off ${i + 1}`}
          onClick=${() => setState({ ...state, time_off: state.time_off.filter((_, j) => j !== i) })}>Remove</button></div>`)}
      <button type="button" class="mc-button mc-quiet" onClick=${() => {
        const day = doc.today.date;  // the rep's date (their zone), from the server, not the browser's
        setState({ ...state, time_off: [...state.time_off, { first_day: day, last_day: day, reason: "" }] });
      }}>Add time off</button>
    </fieldset>
    ${doc.holiday_country && html`<p class="mc-muted">Public holidays of ${doc.holiday_country} (the team's calendar) are days off too.</p>`}
    <${Notice} message=${error} kind="error" id="schedule-error" />
    <p><button type="submit" class="mc-button" disabled=${saving}>Save schedule</button></p>
    ${changes && html`<${Changes} rows=${changes} />`}
  </form>`;
}

// Dated shifts entered for a date (planned): each replaces the week's windows that day, a day off clears it.
// "Today" is the rep's shift day in the rep's zone as the server answers it (schedule `today.date`):
// the browser's own clock and zone say nothing about the rep's date.
function Overrides({ rep, doc, onChanged }) {
  const [shifts, error, reload] = useLoad(() => api(`/api/reps/${rep.id}/shifts/`), [rep.id]);
  const today = doc.today.date;
  const blank = { date: today, number: 1, start_time: "09:00", end_time: "17:00", is_day_off: false, note: "" };
  const [draft, setDraft] = useState(blank);
  const [said, setSaid] = useState({ message: "", kind: "info" });
  const [changes, setChanges] = useState(null);
  const set = (key) => (e) => setDraft({ ...draft, [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const after = async (message) => {  // what the change did to today, from the schedule read before and after it
    const fresh = await api(`/api/reps/${rep.id}/schedule/`);
    setChanges(todayChanges(doc.today, fresh.today));
    setSaid({ message, kind: "info" });
    reload();
    onChanged(fresh);
  };
  const add = async (e) => {
    e.preventDefault();
    const body = { ...draft, number: Number(draft.number) };
    if (body.is_day_off) { body.start_time = null; body.end_time = null; }
    try {
      await api(`/api/reps/${rep.id}/shifts/`, { method: "POST", body });
      await after(`Override for ${draft.date} saved.`);
    } catch (err) { setSaid({ message: errorText(err), kind: "error" }); setChanges(null); }
  };
  const remove = async (s) => {
    try {
      await api(`/api/reps/${rep.id}/shifts/${s.id}/`, { method: "DELETE" });
      await after(`Override for ${s.date} deleted: the week applies that day again.`);
    } catch (err) { setSaid({ message: errorText(err), kind: "error" }); setChanges(null); }
  };
  const upcoming = (shifts || []).filter((s) => s.planned && s.date >= today);
  return html`<section class="mc-card" aria-labelledby="overrides-title">
    <h2 id="overrides-title">Date overrides</h2>
    <p class="mc-muted">A dated shift replaces the week's windows on that date; a day off clears it. Delete one and the week applies again.</p>
    <${Notice} message=${error} kind="error" />
    ${upcoming.length ? html`<div class="mc-scroll"><table class="mc-table" id="overrides">
      <thead><tr><th scope="col">Date</th><th scope="col">Shift</th><th scope="col">Hours</th><th scope="col">Note</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${upcoming.map((s) => html`<tr key=${s.id}><td>${s.date}</td><td>${s.number}</td>
        <td>${s.is_day_off ? "day off" : `${hhmm(s.start_time)}–${hhmm(s.end_time)}`}</td><td>${s.note}</td>
        <td><button type="button" class="mc-button mc-quiet" aria-label=${`Delete override on ${s.date}, shift ${s.number}`}
          onClick=${() => remove(s)}>Delete</button></td></tr>`)}</tbody></table></div>`
      : html`<p class="mc-muted">No override from today (${today}) on.</p>`}
    <form class="mc-inline-form" onSubmit=${add}>
      <label>Date <input type="date" required value=${draft.date} onInput=${set("date")} /></label>
      <label>Shift number <input type="number" min="1" max="9" required value=${draft.number} onInput=${set("number")} /></label>
      <label><input type="checkbox" checked=${draft.is_day_off} onChange=${set("is_day_off")} /> Day off</label>
      ${!draft.is_day_off && html`<label>From <input type="time" required aria-label="Override start" value=${draft.start_time} onInput=${set("start_time")} /></label>
        <label>to <input type="time" required aria-label="Override end" value=${draft.end_time} onInput=${set("end_time")} /></label>`}
      <label>Note <input maxlength="200" value=${draft.note} onInput=${set("note")} /></label>
      <button type="submit" class="mc-button">Add override</button>
    </form>
    <${Notice} message=${said.message} kind=${said.kind} id="override-said" />
    ${changes && html`<${Changes} rows=${changes} id="override-changes" title="What this changes today" />`}
  </section>`;
}

function TodayBox({ today }) {
  return html`<section class="mc-card" aria-labelledby="sched-today-title">
    <h2 id="sched-today-title">Today (${today.weekday}, ${today.timezone})</h2>
    <p id="schedule-today">${windowsText(today)} · ${today.open_now ? `open now, until ${when(today.window_closes)}`
      : `closed, next opening ${today.next_opening_local || "none"}`}</p>
    ${!today.weekly && html`<p class="mc-muted">No weekly windows: each channel keeps its own daily hours.</p>`}
    <ul class="mc-plain">${today.channels.map((c) => html`<li key=${c.rep_channel_id}><strong>${c.channel}</strong>: ${windowsText(c)}
      · ${c.open_now ? "open now" : `next ${c.next_opening_local || "none"}`}</li>`)}</ul>
  </section>`;
}

export function Schedules({ reps, repId, activities }) {
  const rep = reps.find((r) => String(r.id) === String(repId)) || reps[0];
  const [doc, setDoc] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    if (!rep) return;
    setDoc(null);
    api(`/api/reps/${rep.id}/schedule/`).then(setDoc, (e) => setError(errorText(e)));
  }, [rep && rep.id]);
  if (!rep) return html`<p class="mc-muted">Your team has no rep yet.</p>`;
  return html`<div class="mc-stack">
    <div class="mc-card mc-row">
      <label for="schedule-rep">Rep</label>
      <select id="schedule-rep" value=${rep.id} onChange=${(e) => { location.hash = `#schedules/${e.target.value}`; }}>
        ${reps.map((r) => html`<option value=${r.id}>${r.full_name}</option>`)}</select>
    </div>
    <${Notice} message=${error} kind="error" />
    ${doc ? html`<${TodayBox} today=${doc.today} />
      <${WeekEditor} rep=${rep} doc=${doc} activities=${activities} onSaved=${setDoc} />` : html`<p class="mc-muted">Loading…</p>`}
    ${doc && html`<${Overrides} rep=${rep} doc=${doc} onChanged=${(fresh) => setDoc((d) => ({ ...d, today: fresh.today }))} />`}
    <${Capacities} rep=${rep} />
  </div>`;
}
