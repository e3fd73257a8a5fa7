// Tiny bar charts on canvas, drawn by the app itself (no library, no CDN).
const PALETTE = ["#2563eb", "#16a34a", "#c026d3", "#ea580c", "#475569", "#0891b2"];

export function barChart(canvas, { labels, series }) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 320, height = canvas.clientHeight || 180;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const left = 30, bottom = 34, top = 8, plotH = height - bottom - top;
  const groupW = (width - left) / Math.max(1, labels.length);
  const barW = Math.max(2, (groupW - 6) / Math.max(1, series.length));
  ctx.font = "11px system-ui"; ctx.fillStyle = "#667085";
  ctx.fillText(String(max), 2, top + 8); ctx.fillText("0", 2, top + plotH);
  labels.forEach((label, i) => {
    series.forEach((s, j) => {
      const h = (s.values[i] / max) * plotH;
      ctx.fillStyle = s.color || PALETTE[j % PALETTE.length];
      ctx.fillRect(left + i * groupW + j * barW, top + plotH - h, barW - 1, h);
    });
    ctx.fillStyle = "#667085";
    ctx.fillText(String(label).slice(0, 10), left + i * groupW, height - bottom + 14);
  });
  series.forEach((s, j) => {
    ctx.fillStyle = s.color || PALETTE[j % PALETTE.length];
    ctx.fillRect(left + j * 90, height - 12, 10, 10);
    ctx.fillStyle = "#1c1e21"; ctx.fillText(s.name, left + j * 90 + 14, height - 3);
  });
}
