// Templates (admins): the list, edit or create one, and preview it with variables in a language.
import { html, useState, useEffect, api, errorText, useLoad, Notice, Field, mount } from "./ui.js";

const BLANK = { id: null, name: "", body: "", translations: {}, whatsapp_name: "", whatsapp_language: "en_US", variables: [] };

function Preview({ template }) {
  const [values, setValues] = useState({});
  const [language, setLanguage] = useState("");
  const [result, setResult] = useState({ text: "", missing: [], error: "" });
  useEffect(() => { setValues({}); setLanguage(""); setResult({ text: "", missing: [], error: "" }); }, [template.id]);
  useEffect(() => {
    let stale = false;
    const timer = setTimeout(() => api(`/api/templates/${template.id}/preview/`, { method: "POST", body: { variables: values, language } })
      .then((r) => !stale && setResult({ ...r, error: "" }), (err) => !stale && setResult({ text: "", missing: [], error: errorText(err) })), 200);
    return () => { stale = true; clearTimeout(timer); };
  }, [template.id, template.body, JSON.stringify(values), language]);
  return html`<section class="op-card" aria-labelledby="preview-title">
    <h2 id="preview-title">Preview of ${template.name}</h2>
    ${template.variables.map((name) => html`<${Field} id=${`var-${name}`} label=${name}>
      <input id=${`var-${name}`} value=${values[name] || ""} onInput=${(e) => setValues({ ...values, [name]: e.target.value })} /></${Field}>`)}
    <${Field} id="preview-language" label="Language"><select id="preview-language" value=${language} onChange=${(e) => setLanguage(e.target.value)}>
      <option value="">Default</option>${Object.keys(template.translations).map((l) => html`<option value=${l}>${l}</option>`)}</select></${Field}>
    <div class="op-preview" id="preview-text" aria-live="polite">${result.text || (result.missing.length ? `Fill in: ${result.missing.join(", ")}` : "")}</div>
    <${Notice} message=${result.error} kind="error" />
  </section>`;
}

function Editor({ template, onSaved, say }) {
  const toForm = (t) => ({ ...t, translations: JSON.stringify(t.translations || {}, null, 2) });
  const [form, setForm] = useState(toForm(template));
  const [said, setSaid] = useState({ message: "", kind: "info" });
  // No reset effect: the page keys the editor by template id, so another template mounts a fresh one;
  // an effect running after the first paint replaced what a quick typist had already written.
  // Saving a new template selects it, which mounts its editor afresh: the news goes to the page.
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const save = async (e) => {
    e.preventDefault();
    let translations;
    try { translations = JSON.parse(form.translations || "{}"); } catch (_) { setSaid({ message: "Translations are not valid JSON.", kind: "error" }); return; }
    const body = { name: form.name, body: form.body, translations, whatsapp_name: form.whatsapp_name, whatsapp_language: form.whatsapp_language };
    try {
      const saved = template.id ? await api(`/api/templates/${template.id}/`, { method: "PATCH", body })
                                : await api("/api/templates/", { method: "POST", body });
      say(`Saved ${saved.name}.`);
      onSaved(saved);
    } catch (err) { setSaid({ message: errorText(err), kind: "error" }); }
  };
  const remove = async () => {
    if (!window.confirm(`Delete the template ${template.name}?`)) return;
    try { await api(`/api/templates/${template.id}/`, { method: "DELETE" }); say(`Deleted ${template.name}.`); onSaved(null); }
    catch (err) { setSaid({ message: errorText(err), kind: "error" }); }
  };
  return html`<section class="op-card" aria-labelledby="editor-title">
    <h2 id="editor-title">${template.id ? `Edit ${template.name}` : "New template"}</h2>
    <form onSubmit=${save}>
      <${Field} id="tpl-name" label="Name"><input id="tpl-name" required maxlength="100" value=${form.name} onInput=${set("name")} /></${Field}>
      <${Field} id="tpl-body" label="Text" hint="Variables in braces: Hello {name}">
        <textarea id="tpl-body" required rows="4" maxlength="4096" value=${form.body} onInput=${set("body")} aria-describedby="tpl-body-hint"></textarea></${Field}>
      <${Field} id="tpl-translations" label="Translations (JSON: language → text)">
        <textarea id="tpl-translations" rows="3" class="op-mono" value=${form.translations} onInput=${set("translations")}></textarea></${Field}>
      <div class="op-pair">
        <${Field} id="tpl-wa-name" label="WhatsApp template name"><input id="tpl-wa-name" maxlength="100" value=${form.whatsapp_name} onInput=${set("whatsapp_name")} /></${Field}>
        <${Field} id="tpl-wa-lang" label="WhatsApp language"><input id="tpl-wa-lang" maxlength="10" value=${form.whatsapp_language} onInput=${set("whatsapp_language")} /></${Field}>
      </div>
      <${Notice} message=${said.message} kind=${said.kind} />
      <button type="submit" class="op-button op-primary">${template.id ? "Save template" : "Create template"}</button>
      ${template.id && html` <button type="button" class="op-button op-danger" onClick=${remove}>Delete</button>`}
    </form></section>`;
}

function App() {
  const [page, error, reload] = useLoad(() => api("/api/templates/?page_size=100"));
  const [selected, setSelected] = useState(null);
  const [news, say] = useState("");
  const choose = (id) => { say(""); setSelected(id); };
  const templates = page ? page.results : [];
  const current = selected === "new" ? BLANK : templates.find((t) => t.id === selected) || null;
  const saved = (template) => { setSelected(template ? template.id : null); reload(); };
  return html`
    <h1>Templates</h1>
    <${Notice} message=${error} kind="error" /><${Notice} message=${news} />
    <div class="op-grid">
      <section class="op-card" aria-labelledby="tpl-list-title">
        <h2 id="tpl-list-title">All templates</h2>
        <button type="button" class="op-button" onClick=${() => choose("new")}>New template</button>
        ${page && (templates.length === 0 ? html`<p>No template yet.</p>` : html`<ul class="op-list" id="templates">
          ${templates.map((t) => html`<li key=${t.id}><button type="button" class="op-item" aria-current=${selected === t.id ? "true" : "false"}
            onClick=${() => choose(t.id)}>${t.name} <span class="op-muted">· ${t.variables.length ? t.variables.join(", ") : "no variables"}</span></button></li>`)}
        </ul>`)}
      </section>
      ${current && html`<${Editor} key=${current.id || "new"} template=${current} onSaved=${saved} say=${say} />`}
      ${current && current.id && html`<${Preview} template=${current} />`}
    </div>`;
}

mount(App);
