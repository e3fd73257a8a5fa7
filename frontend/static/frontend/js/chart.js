// Charts drawn by the app as SVG (no library, no CDN): stacked bars per day and a funnel. Each
// chart also carries its numbers as a table for screen readers, so the figure is never image-only.
import { html } from "../vendor/htm-preact-standalone-3.1.1.mjs";

export const PALETTE = ["#2563eb", "#15803d", "#a21caf", "#c2410c", "#475569", "#0e7490"];
const INK = "#374151";

function niceMax(value) {
  if (value <= 5) return Math.max(1, Math.ceil(value));
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

function DataTable({ caption, labels, series, format }) {
  return html`<table class="sr-only"><caption>${caption}</caption>
    <thead><tr><th scope="col">Day</th>${series.map((s) => html`<th scope="col">${s.name}</th>`)}</tr></thead>
    <tbody>${labels.map((label, i) => html`<tr><th scope="row">${label}</th>${series.map((s) => html`<td>${format(s.values[i])}</td>`)}</tr>`)}</tbody>
  </table>`;
}

// Bars per label, the series stacked; `format` writes a value (axis, tooltips, the table).
export function StackedBars({ title, labels, series, format = String, height = 190, id }) {
  const width = 560, left = 46, right = 8, top = 10, bottom = 28;
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotH = height - top - bottom, plotW = width - left - right;
  const slot = plotW / Math.max(1, labels.length), barW = Math.max(4, Math.min(42, slot * 0.7));
  const y = (v) => top + plotH - (v / max) * plotH;
  const every = Math.ceil(labels.length / 10);
  const described = labels.length ? `${title}: ${labels.length} days, highest ${format(Math.max(...totals))}` : `${title}: no data yet`;
  return html`<figure class="mc-chart" id=${id}>
    <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${described} preserveAspectRatio="xMidYMid meet">
      <title>${described}</title>
      ${[0, 0.5, 1].map((f) => html`<g>
        <line x1=${left} x2=${width - right} y1=${y(max * f)} y2=${y(max * f)} stroke="#e5e7eb" />
        <text x=${left - 6} y=${y(max * f) + 4} text-anchor="end" font-size="11" fill=${INK}>${format(max * f)}</text></g>`)}
      ${labels.map((label, i) => {
        let base = 0;
        const x = left + i * slot + (slot - barW) / 2;
        return html`<g key=${label}>
          ${series.map((s, j) => {
            const v = s.values[i] || 0;
            const rect = html`<rect x=${x} y=${y(base + v)} width=${barW} height=${Math.max(0, y(base) - y(base + v))}
              fill=${s.color || PALETTE[j % PALETTE.length]}><title>${`${label} · ${s.name}: ${format(v)}`}</title></rect>`;
            base += v;
            return rect;
          })}
          ${i % every === 0 && html`<text x=${x + barW / 2} y=${height - 10} text-anchor="middle" font-size="11" fill=${INK}>${label}</text>`}
        </g>`;
      })}
    </svg>
    ${series.length > 1 && html`<figcaption class="mc-legend">${series.map((s, j) => html`<span key=${s.name}>
      <i style=${`background:${s.color || PALETTE[j % PALETTE.length]}`}></i>${s.name}</span>`)}</figcaption>`}
    ${!labels.length && html`<p class="mc-muted">Nothing in this period yet.</p>`}
    <${DataTable} caption=${title} labels=${labels} series=${series} format=${format} />
  </figure>`;
}

// A funnel: one horizontal bar per stage, scaled to the first, with the share of the first.
export function Funnel({ title, stages, id }) {
  const width = 560, rowH = 30, left = 96, right = 90, height = stages.length * rowH + 8;
  const first = Math.max(1, stages[0] ? stages[0].value : 1);
  const described = `${title}: ${stages.map((s) => `${s.label} ${s.value}`).join(", ")}`;
  return html`<figure class="mc-chart" id=${id}>
    <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${described}>
      <title>${described}</title>
      ${stages.map((s, i) => {
        const w = ((width - left - right) * s.value) / first;
        return html`<g key=${s.label}>
          <text x=${left - 8} y=${i * rowH + 21} text-anchor="end" font-size="12" fill=${INK}>${s.label}</text>
          <rect x=${left} y=${i * rowH + 6} width=${Math.max(s.value ? 2 : 0, w)} height=${rowH - 10} rx="3" fill=${s.color || PALETTE[i % PALETTE.length]} />
          <text x=${left + Math.max(2, w) + 6} y=${i * rowH + 21} font-size="12" fill=${INK}>
            ${`${s.value}${i ? ` · ${Math.round((100 * s.value) / first)} %` : ""}`}</text></g>`;
      })}
    </svg>
    <table class="sr-only"><caption>${title}</caption><tbody>
      ${stages.map((s) => html`<tr><th scope="row">${s.label}</th><td>${s.value}</td></tr>`)}</tbody></table>
  </figure>`;
}
