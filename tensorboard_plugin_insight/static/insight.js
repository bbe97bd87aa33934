// The Insight viewer: one plain ES module, no build step, no dependencies.
// Hosts: the TensorBoard tab (render(), data fetched from the plugin's routes) and the
// self-contained report (mount() on data embedded in the page).
// Every string that comes from the user's files (class names, run names, tags) is
// inserted with textContent or as an attribute value: never parsed as markup.

const PLAY_MS = 900;

/** TensorBoard entry point: the iframe's base URL is /data/plugin/insight/. */
export async function render() {
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = './style.css';
  document.head.appendChild(link);
  const getJSON = async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  };
  await mount(document.body, {
    host: 'tensorboard',
    runs: async () => (await getJSON('./runs')).runs,
    run: async (name) => getJSON('./run?' + new URLSearchParams({run: name})),
  });
}

/** Build an element; `text` sets textContent, other keys become attributes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** The value of the largest key <= step in an object keyed by step strings, else the earliest. */
function atOrBefore(byStep, step) {
  const keys = Object.keys(byStep || {}).map(Number).sort((a, b) => a - b);
  if (!keys.length) return null;
  const before = keys.filter((k) => k <= step);
  const key = before.length ? before[before.length - 1] : keys[0];
  return {step: key, value: byStep[String(key)]};
}

function seriesAt(series, step) {
  const before = (series || []).filter(([s]) => s <= step);
  return before.length ? before[before.length - 1] : null;
}

function epochName(step) {
  return `epoch ${step + 1}`;
}

function pct(p) {
  return `${(100 * p).toFixed(1)}%`;
}

// Colour per epoch index: a viridis-like ramp.
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function epochColor(i, n) {
  const t = n <= 1 ? 1 : i / (n - 1);
  const x = t * (RAMP.length - 1);
  const j = Math.min(Math.floor(x), RAMP.length - 2);
  const f = x - j;
  const c = RAMP[j].map((v, k) => Math.round(v + f * (RAMP[j + 1][k] - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** Line chart on a canvas: series [{xs, ys, color, width}], axes from opts. */
function lineChart(canvas, series, opts) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width;
  const H = canvas.height;
  const m = {l: 44, r: 12, t: 12, b: 34};
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  const xs = series.flatMap((s) => s.xs);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x0 + 1];
  const [y0, y1] = [opts.ymin ?? 0, opts.ymax ?? 1];
  const px = (x) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  ctx.strokeStyle = '#888';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(m.l, m.t);
  ctx.lineTo(m.l, H - m.b);
  ctx.lineTo(W - m.r, H - m.b);
  ctx.stroke();
  ctx.fillStyle = '#444';
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'right';
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (i / 4) * (y1 - y0);
    ctx.fillText(y.toFixed(2), m.l - 4, py(y) + 4);
  }
  ctx.textAlign = 'center';
  const ticks = opts.xticks || [x0, (x0 + x1) / 2, x1];
  for (const x of ticks) ctx.fillText(opts.xfmt ? opts.xfmt(x) : x.toPrecision(2), px(x), H - m.b + 14);
  ctx.fillText(opts.xlabel || '', (m.l + W - m.r) / 2, H - 4);
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = s.width || 1.5;
    ctx.beginPath();
    s.xs.forEach((x, i) => (i ? ctx.lineTo(px(x), py(s.ys[i])) : ctx.moveTo(px(x), py(s.ys[i]))));
    ctx.stroke();
    s.xs.forEach((x, i) => {
      ctx.beginPath();
      ctx.arc(px(x), py(s.ys[i]), s.width > 2 ? 3.5 : 2.5, 0, 2 * Math.PI);
      ctx.fill();
    });
  }
}

/** Mount the viewer into `root`; `source` gives runs() and run(name). */
export async function mount(root, source) {
  const app = el('div', {class: 'insight', id: 'insight-app'});
  root.append(app);
  app.append(el('h1', {text: 'Insight'}));
  let runs;
  try {
    runs = await source.runs();
  } catch (err) {
    app.append(el('p', {class: 'error', text: `Could not load the runs: ${err}`}));
    return;
  }
  if (!runs.length) {
    app.append(el('p', {class: 'empty', text: 'No run holds insight data yet: train with ' +
      'keras_insight.callbacks.suite(...) (Grad-CAM or Saliency) and reload.'}));
    return;
  }
  const cache = new Map();
  const load = async (name) => {
    if (!cache.has(name)) cache.set(name, await source.run(name));
    return cache.get(name);
  };
  const state = {runA: runs[0], runB: runs[runs.length > 1 ? 1 : 0], sample: 0, epoch: 0, timer: null, attack: null};

  const runSelect = el('select', {id: 'run-select'});
  for (const r of runs) runSelect.append(el('option', {value: r, text: r}));
  const header = el('div', {class: 'header'}, el('label', {text: 'Run '}, runSelect));
  const notes = el('ul', {class: 'notes', id: 'notes'});
  const slider = el('input', {type: 'range', id: 'epoch-slider', min: 0, max: 0, step: 1, value: 0});
  const play = el('button', {id: 'play', type: 'button', text: '\u25B6 play'});
  const epochLabel = el('span', {id: 'epoch-label'});
  const controls = el('div', {class: 'controls'}, play, slider, epochLabel);
  const panels = {
    timeline: el('section', {class: 'panel', id: 'panel-timeline'}),
    classes: el('section', {class: 'panel', id: 'panel-classes'}),
    robustness: el('section', {class: 'panel', id: 'panel-robustness'}),
    compare: el('section', {class: 'panel', id: 'panel-compare'}),
  };
  const sticky = el('div', {class: 'sticky'}, header, controls);
  app.append(sticky, notes, ...Object.values(panels));

  const view = () => cache.get(state.runA);
  const step = () => view().steps[state.epoch];

  async function selectRun(name) {
    state.runA = name;
    await load(name);
    const v = view();
    state.epoch = v.steps.length - 1;
    state.sample = Math.min(state.sample, v.samples.length - 1);
    slider.max = String(Math.max(v.steps.length - 1, 0));
    slider.value = String(state.epoch);
    notes.replaceChildren(...v.notes.map((n) => el('li', {text: n})));
    buildPicker();
    update();
  }

  runSelect.addEventListener('change', () => selectRun(runSelect.value));
  slider.addEventListener('input', () => {
    state.epoch = Number(slider.value);
    update();
  });
  play.addEventListener('click', () => {
    if (state.timer) {
      clearInterval(state.timer);
      state.timer = null;
      play.textContent = '\u25B6 play';
      return;
    }
    if (state.epoch >= view().steps.length - 1) state.epoch = -1;
    play.textContent = '\u25A0 pause';
    const tick = () => {
      state.epoch = Math.min(state.epoch + 1, view().steps.length - 1);
      slider.value = String(state.epoch);
      update();
      if (state.epoch >= view().steps.length - 1) {  // stop on the last epoch
        clearInterval(state.timer);
        state.timer = null;
        play.textContent = '\u25B6 play';
      }
    };
    state.timer = setInterval(tick, PLAY_MS);
    tick();
  });

  // ---- sample timeline
  const picker = el('div', {class: 'picker', id: 'sample-picker'});
  const card = el('div', {class: 'card', id: 'timeline-card'});
  const strip = el('div', {class: 'strip', id: 'epoch-strip'});
  panels.timeline.append(
    el('h2', {text: 'Sample timeline'}),
    el('p', {class: 'hint', text: 'Pick a probe image. \u2605 marks the epoch its prediction ' +
      'first became right; \u21BA marks samples that were right and later wrong again.'}),
    picker, card, strip);

  function className(v, c) {
    return c === null || c === undefined ? '?' : (v.classes[c] ?? String(c));
  }

  function buildPicker() {
    const v = view();
    picker.replaceChildren();
    v.samples.forEach((s, i) => {
      const badges = el('span', {class: 'badges'});
      if (s.first_correct !== null) badges.append(el('span', {class: 'badge ok', text: `\u2605${s.first_correct + 1}`, title: `first right at ${epochName(s.first_correct)}`}));
      else if (s.true !== null) badges.append(el('span', {class: 'badge bad', text: '\u2717', title: 'never right'}));
      if (s.forgetting > 0) badges.append(el('span', {class: 'badge flip', text: `\u21BA${s.forgetting}`, title: `forgotten ${s.forgetting}\u00D7`}));
      const thumb = v.input ? el('img', {src: v.input[i], alt: `sample ${i}`}) : el('span', {class: 'noimg', text: `#${i}`});
      const button = el('button', {type: 'button', class: 'thumb', 'data-index': i},
        thumb, el('span', {class: 'caption', text: className(v, s.true)}), badges);
      button.addEventListener('click', () => {
        state.sample = i;
        update();
      });
      picker.append(button);
    });
  }

  function figure(src, caption, cls) {
    return el('figure', {class: cls || ''},
      src ? el('img', {src, alt: caption}) : el('div', {class: 'noimg', text: 'not logged'}),
      el('figcaption', {text: caption}));
  }

  /** The per-sample card (input, prediction, overlays) of view `v` at `atStep`. */
  function sampleCard(v, i, atStep, prefix) {
    const e = [...v.epochs].reverse().find((x) => x.step <= atStep) || v.epochs[0];
    const s = v.samples[i];
    const pred = e.pred[i];
    const ok = s.true === null ? null : pred === s.true;
    const figs = [figure(v.input ? v.input[i] : null, `input (true: ${className(v, s.true)})`)];
    for (const [method, byStep] of Object.entries(v.overlays)) {
      const hit = atOrBefore(byStep, e.step);
      const from = hit && hit.step !== e.step ? ` (from ${epochName(hit.step)})` : '';
      figs.push(figure(hit ? hit.value[i] : null, method + from, 'overlay'));
    }
    const label = el('div', {class: `pred ${ok === null ? '' : ok ? 'right' : 'wrong'}`, id: `${prefix}pred-label`},
      `predicted: ${className(v, pred)} (${pct(e.topk[i][0][1])})`);
    const bars = el('div', {class: 'topk'});
    for (const [c, p] of e.topk[i]) {
      bars.append(el('div', {class: 'bar-row'},
        el('span', {class: 'bar-name', text: className(v, c)}),
        el('span', {class: 'bar'}, el('span', {class: `fill ${c === s.true ? 'true' : ''}`, style: `width: ${(100 * p).toFixed(1)}%`})),
        el('span', {class: 'bar-p', text: pct(p)})));
    }
    return el('div', {class: 'sample-card'},
      el('div', {class: 'figs'}, ...figs),
      el('div', {class: 'side'}, el('div', {class: 'epoch-of', text: epochName(e.step)}), label, bars));
  }

  function updateTimeline() {
    const v = view();
    const i = state.sample;
    for (const b of picker.children) b.classList.toggle('selected', Number(b.dataset.index) === i);
    card.replaceChildren(sampleCard(v, i, step(), ''));
    const s = v.samples[i];
    strip.replaceChildren(el('span', {class: 'strip-title', text: 'per epoch: '}));
    v.epochs.forEach((e, k) => {
      const right = s.true !== null && e.pred[i] === s.true;
      const first = s.first_correct === e.step;
      const cell = el('button', {type: 'button', class: `cell ${right ? 'right' : 'wrong'} ${k === state.epoch ? 'current' : ''} ${first ? 'first' : ''}`,
        title: `${epochName(e.step)}: ${className(v, e.pred[i])}`, text: `${first ? '\u2605' : ''}${e.step + 1}`});
      cell.addEventListener('click', () => {
        state.epoch = k;
        slider.value = String(k);
        update();
      });
      strip.append(cell);
    });
  }

  // ---- class view
  function updateClasses() {
    const v = view();
    const at = step();
    const cv = v.class_view;
    const conf = atOrBefore(cv.confusion, at);
    const rows = v.classes.map((name, c) => {
      const syn = atOrBefore(cv.synthesis[String(c)], at);
      const acc = seriesAt(cv.accuracy[String(c)], at);
      const row = conf ? conf.value[c] || [] : [];
      const total = row.reduce((a, b) => a + b, 0);
      const cells = el('div', {class: 'conf-row'});
      row.forEach((n, j) => {
        const f = total ? n / total : 0;
        cells.append(el('span', {class: `conf-cell ${j === c ? 'diag' : ''}`,
          style: `background: rgba(${j === c ? '30, 120, 60' : '200, 40, 40'}, ${f.toFixed(3)})`,
          title: `true ${name} \u2192 predicted ${v.classes[j] ?? j}: ${n}`, text: n ? String(n) : ''}));
      });
      return el('tr', {},
        el('th', {text: name}),
        el('td', {}, syn ? el('img', {src: syn.value, alt: `synthesised ${name}`, class: 'synth'}) : el('span', {class: 'noimg', text: 'not logged'}),
          syn && syn.step !== at ? el('div', {class: 'from', text: `from ${epochName(syn.step)}`}) : null),
        el('td', {class: 'acc', text: acc ? pct(acc[1]) : '\u2013'}),
        el('td', {}, cells));
    });
    const head = el('tr', {}, el('th', {text: 'class'}), el('th', {text: 'synthesised'}),
      el('th', {text: 'accuracy'}), el('th', {text: conf ? `confusion row (${epochName(conf.step)})` : 'confusion row'}));
    panels.classes.replaceChildren(el('h2', {text: 'Class view'}),
      el('table', {class: 'classes'}, el('thead', {}, head), el('tbody', {}, ...rows)));
  }

  // ---- robustness
  function updateRobustness() {
    const v = view();
    const r = v.robustness;
    const children = [el('h2', {text: 'Robustness'})];
    if (!r.curves.length) {
      children.push(el('p', {class: 'hint', text: 'No robustness data in this run ' +
        '(AdversarialRobustness logs every few epochs and at train end).'}));
      panels.robustness.replaceChildren(...children);
      return;
    }
    // One attack at a time: the worst case over attacks when logged, else the first.
    const attacks = [...new Set(r.curves.map((c) => c.attack))];
    if (!attacks.includes(state.attack)) state.attack = attacks.find((a) => a.endsWith('_worst')) || attacks[0];
    const attackSelect = el('select', {id: 'attack-select'});
    for (const a of attacks) attackSelect.append(el('option', {value: a, text: a}));
    attackSelect.value = state.attack;
    attackSelect.addEventListener('change', () => {
      state.attack = attackSelect.value;
      update();
    });
    children.push(el('label', {text: 'attack '}, attackSelect));
    const shown = r.curves.filter((c) => c.attack === state.attack);
    const steps = [...new Set(shown.map((c) => c.step))].sort((a, b) => a - b);
    const cur = seriesAt(steps.map((s) => [s]), step());
    const curves = el('canvas', {width: 420, height: 260, id: 'robustness-curves'});
    const legend = el('div', {class: 'legend'});
    const series = shown.map((c) => ({xs: c.eps, ys: c.acc,
      color: epochColor(steps.indexOf(c.step), steps.length),
      width: cur && c.step === cur[0] ? 3 : 1.5}));
    steps.forEach((s, k) => legend.append(el('span', {class: 'key'},
      el('span', {class: 'swatch', style: `background: ${epochColor(k, steps.length)}`}), epochName(s))));
    const auc = el('canvas', {width: 320, height: 260, id: 'robustness-auc'});
    children.push(el('div', {class: 'charts'},
      el('figure', {}, curves, el('figcaption', {text: `robust accuracy vs eps (${state.attack}), one curve per epoch`}), legend),
      el('figure', {}, auc, el('figcaption', {text: 'AUC of the curve over epochs'}))));
    panels.robustness.replaceChildren(...children);
    const eps = shown[0].eps;
    lineChart(curves, series, {xlabel: 'eps', xticks: eps.length > 6 ? [eps[0], eps[eps.length - 1]] : eps});
    const aucSeries = r.auc.length ? [{xs: r.auc.map(([s]) => s + 1), ys: r.auc.map(([, a]) => a), color: '#333', width: 2}] : [];
    if (aucSeries.length) lineChart(auc, aucSeries, {xlabel: 'epoch', xfmt: (x) => String(Math.round(x)),
      xticks: [...new Set(r.auc.map(([s]) => s + 1))]});
  }

  // ---- run comparison
  const selA = el('select', {id: 'compare-a'});
  const selB = el('select', {id: 'compare-b'});
  for (const r of runs) {
    selA.append(el('option', {value: r, text: r}));
    selB.append(el('option', {value: r, text: r}));
  }
  selB.value = state.runB;
  selA.addEventListener('change', () => {
    runSelect.value = selA.value;
    selectRun(selA.value);
  });
  selB.addEventListener('change', async () => {
    state.runB = selB.value;
    await load(state.runB);
    update();
  });
  const compareBody = el('div', {class: 'compare'});
  panels.compare.append(el('h2', {text: 'Run comparison'}),
    runs.length < 2
      ? el('p', {class: 'hint', text: 'Only one run holds insight data; log a second run ' +
        '(e.g. with augmentation) into a sibling directory of the same log dir to compare.'})
      : el('div', {class: 'compare-select'}, el('label', {text: 'A '}, selA), el('label', {text: ' B '}, selB)),
    compareBody);

  function runSummary(v, at) {
    const acc = seriesAt(v.accuracy, at);
    const auc = seriesAt(v.robustness.auc, at);
    return el('div', {class: 'run-summary'},
      el('div', {class: 'run-name', text: v.run}),
      el('div', {text: `accuracy: ${acc ? pct(acc[1]) : '\u2013'}, robustness AUC: ${auc ? auc[1].toFixed(3) : '\u2013'}`}));
  }

  function updateCompare() {
    selA.value = state.runA;
    const a = view();
    const b = cache.get(state.runB);
    const at = step();
    const cols = (runs.length < 2 ? [a] : [a, b]).filter(Boolean).map((v, k) => {
      const i = Math.min(state.sample, v.samples.length - 1);
      return el('div', {class: 'compare-col', id: `compare-col-${k}`}, runSummary(v, at), sampleCard(v, i, at, `compare-${k}-`));
    });
    compareBody.replaceChildren(...cols);
    if (runs.length < 2 || !b) return;
    // Class accuracy and robustness of both runs at the chosen epoch.
    const head = el('tr', {}, el('th', {text: 'class'}), el('th', {text: a.run}), el('th', {text: b.run}),
      el('th', {text: 'B \u2212 A'}));
    const rows = a.classes.map((name, c) => {
      const x = seriesAt(a.class_view.accuracy[String(c)], at);
      const y = seriesAt(b.class_view.accuracy[String(c)], at);
      const d = x && y ? y[1] - x[1] : null;
      return el('tr', {}, el('th', {text: name}), el('td', {class: 'acc', text: x ? pct(x[1]) : '\u2013'}),
        el('td', {class: 'acc', text: y ? pct(y[1]) : '\u2013'}),
        el('td', {class: `acc ${d === null ? '' : d >= 0 ? 'up' : 'down'}`, text: d === null ? '\u2013' : `${d >= 0 ? '+' : ''}${(100 * d).toFixed(1)}`}));
    });
    const table = el('table', {class: 'classes', id: 'compare-classes'}, el('thead', {}, head), el('tbody', {}, ...rows));
    const pick = (v) => {
      const attack = v.robustness.curves.some((c) => c.attack === state.attack) ? state.attack : null;
      const cs = v.robustness.curves.filter((c) => c.attack === attack && c.step <= at);
      return cs.length ? cs[cs.length - 1] : null;
    };
    const [ca, cb] = [pick(a), pick(b)];
    const parts = [el('figure', {}, table, el('figcaption', {text: 'class accuracy at the chosen epoch'}))];
    if (ca || cb) {
      const canvas = el('canvas', {width: 360, height: 220, id: 'compare-robustness'});
      const legend = el('div', {class: 'legend'});
      const series = [];
      [[ca, a, '#1f77b4'], [cb, b, '#d62728']].forEach(([c, v, color]) => {
        if (!c) return;
        series.push({xs: c.eps, ys: c.acc, color, width: 2});
        legend.append(el('span', {class: 'key'}, el('span', {class: 'swatch', style: `background: ${color}`}),
          `${v.run} (${epochName(c.step)})`));
      });
      parts.push(el('figure', {}, canvas, el('figcaption', {text: `robust accuracy vs eps (${state.attack})`}), legend));
      compareBody.append(el('div', {class: 'charts compare-extra'}, ...parts));
      const eps = series[0].xs;
      lineChart(canvas, series, {xlabel: 'eps', xticks: eps.length > 6 ? [eps[0], eps[eps.length - 1]] : eps});
    } else {
      compareBody.append(el('div', {class: 'charts compare-extra'}, ...parts));
    }
  }

  function update() {
    const v = view();
    epochLabel.textContent = `${epochName(step())} of ${v.steps.length ? v.steps[v.steps.length - 1] + 1 : 0} (step ${step()})`;
    updateTimeline();
    updateClasses();
    updateRobustness();
    updateCompare();
    app.dataset.ready = 'true';
  }

  await load(state.runB);
  await selectRun(state.runA);
}
