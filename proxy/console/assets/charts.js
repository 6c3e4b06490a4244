// charts.js draws the usage charts as SVG: stacked bars over time, one
// colour per group (key, model or provider). No library: a few rectangles,
// axes and labels are all a usage chart needs, and the console must work
// offline.
'use strict';

window.Charts = (function () {
  const NS = 'http://www.w3.org/2000/svg';
  const PALETTE = ['#0b5cad', '#d1661a', '#1a7f37', '#8250df', '#cf222e', '#0598a5', '#9a6700', '#bf3989', '#57606a', '#2da44e'];

  function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // niceMax rounds a maximum up to 1, 2 or 5 times a power of ten, so the
  // axis has round ticks.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // colors gives each group a stable colour: the order of the groups sorted
  // by name, so a model keeps its colour from one refresh to the next.
  function colors(groups) {
    const out = {};
    [...groups].sort().forEach((g, i) => { out[g] = PALETTE[i % PALETTE.length]; });
    return out;
  }

  // stacked draws one chart. opts: title, times (bucket starts, Date, in
  // order), groups (names), value(time index, group) -> number, format(n) ->
  // label, label(group) -> shown name, timeLabel(Date) -> axis label, id.
  function stacked(opts) {
    const W = 640, H = 240, L = 70, R = 10, T = 14, B = 26;
    const wrap = document.createElement('div');
    wrap.className = 'chart card';
    if (opts.id) wrap.id = opts.id;
    const h = document.createElement('h3');
    h.textContent = opts.title;
    wrap.appendChild(h);
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opts.title });
    const n = opts.times.length;
    const totals = opts.times.map((_, i) => opts.groups.reduce((s, g) => s + (opts.value(i, g) || 0), 0));
    const max = niceMax(Math.max(0, ...totals));
    const y = v => T + (H - T - B) * (1 - v / max);
    for (let t = 0; t <= 4; t++) {
      const v = max * t / 4, yy = y(v);
      svg.appendChild(el('line', { class: 'grid', x1: L, x2: W - R, y1: yy, y2: yy }));
      svg.appendChild(el('text', { x: L - 6, y: yy + 3, 'text-anchor': 'end' }, opts.format(v)));
    }
    svg.appendChild(el('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    const slot = (W - L - R) / Math.max(n, 1);
    const bw = Math.max(1, slot * 0.8);
    const col = colors(opts.groups);
    let bars = 0;
    for (let i = 0; i < n; i++) {
      let acc = 0;
      const x = L + i * slot + (slot - bw) / 2;
      for (const g of opts.groups) {
        const v = opts.value(i, g) || 0;
        if (v <= 0) continue;
        const y1 = y(acc + v), y0 = y(acc);
        const r = el('rect', { class: 'bar', x: x.toFixed(2), y: y1.toFixed(2), width: bw.toFixed(2), height: Math.max(0.5, y0 - y1).toFixed(2), fill: col[g], 'data-group': g });
        r.appendChild(el('title', {}, `${opts.label(g)} · ${opts.timeLabel(opts.times[i])}: ${opts.format(v)}`));
        svg.appendChild(r);
        acc += v;
        bars++;
      }
    }
    // About six time labels, whatever the number of buckets.
    const every = Math.max(1, Math.ceil(n / 6));
    for (let i = 0; i < n; i += every) {
      svg.appendChild(el('text', { x: L + i * slot + slot / 2, y: H - 8, 'text-anchor': 'middle' }, opts.timeLabel(opts.times[i])));
    }
    wrap.appendChild(svg);
    if (bars === 0) {
      const p = document.createElement('p');
      p.className = 'empty';
      p.textContent = 'Nothing in this period.';
      wrap.appendChild(p);
    }
    const legend = document.createElement('div');
    legend.className = 'legend';
    for (const g of opts.groups) {
      const s = document.createElement('span');
      const i = document.createElement('i');
      i.style.background = col[g];
      s.appendChild(i);
      s.appendChild(document.createTextNode(opts.label(g)));
      legend.appendChild(s);
    }
    wrap.appendChild(legend);
    return wrap;
  }

  return { stacked, niceMax };
})();
