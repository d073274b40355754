// The Diagnosis tab: which runs are in trouble, what the curves say, what to change.
//
// TensorBoard loads this ES module in an iframe and calls render(). Every string
// that comes from log files (run names, tags, messages) is inserted with
// textContent or escaped before it reaches Plotly, never parsed as HTML.
// What is shown is always the routes' `display` form (control characters, bidi
// overrides and undecodable bytes written as \x1b, \u202e, \xff by the server's
// present.safe_text.visible); the raw `run` is used only to ask for a run.
//
// When the logdir holds sweeps (3+ runs with hyperparameters in one folder, the `/sweeps` route: the same document
// as `tb-recipe sweep --format json`), the tab opens on a sweep view: what the sweep says and what to search next,
// the best metric against each hyperparameter that matters, and a table of its runs; a row opens that run.

// Every word shown comes from the server's catalogue (`/strings`, tb_recipe_plugin/present/catalogue/labels.py),
// the same one the CLI and the Keras callback print from. Only the message for a failed first load is kept here.
const FALLBACK = {failed: 'Could not load', status: {}};

const CSS = `
  :root { --fg:#212121; --muted:#616161; --bg:#fff; --panel:#f5f5f5; --line:#e0e0e0; --accent:#f57c00;
          --error:#d32f2f; --warning:#f57c00; --info:#1976d2; --ok:#388e3c; --no_data:#9e9e9e; }
  :root.dark { --fg:#e0e0e0; --muted:#9e9e9e; --bg:#303030; --panel:#3a3a3a; --line:#555; }
  body { margin:0; font-family: Roboto, Arial, sans-serif; font-size:13px; color:var(--fg); background:var(--bg); }
  #app { display:flex; height:100vh; }
  #sidebar { width:280px; border-right:1px solid var(--line); display:flex; flex-direction:column; }
  #sidebar header { padding:12px; display:flex; gap:8px; align-items:center; }
  #sidebar h1 { font-size:15px; font-weight:500; margin:0; flex:1; }
  #filter { margin:0 12px 8px; padding:6px; border:1px solid var(--line); border-radius:4px; background:var(--bg); color:var(--fg); }
  #runs { overflow:auto; flex:1; }
  .run { padding:8px 12px; cursor:pointer; display:flex; gap:8px; align-items:center; border-left:3px solid transparent; }
  .run:hover { background:var(--panel); }
  .run.selected { background:var(--panel); border-left-color:var(--accent); }
  .run .name { flex:1; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
  .badge { font-size:11px; padding:1px 6px; border-radius:8px; color:#fff; }
  .count { font-size:11px; color:var(--muted); }
  .count .failed, .analysis-errors { color:var(--error); }
  #main { flex:1; overflow:auto; padding:16px 24px; }
  #main h2 { font-size:18px; font-weight:500; margin:0 0 8px; word-break:break-all; }
  .card { border:1px solid var(--line); border-left:4px solid var(--line); border-radius:4px; padding:10px 12px; margin:8px 0; cursor:pointer; }
  .card.selected { box-shadow:0 0 0 2px var(--accent); }
  .card h3 { font-size:14px; margin:0 0 4px; font-weight:500; }
  .card .meta { color:var(--muted); font-size:12px; margin-bottom:6px; }
  .card ol { margin:6px 0 0; padding-left:20px; }
  .card .why { color:var(--muted); }
  .chart { height:280px; margin:8px 0 16px; }
  .verdict { border:1px solid var(--line); border-left:4px solid var(--line); border-radius:4px; padding:10px 12px; margin:8px 0 12px; background:var(--panel); }
  .verdict .headline { font-size:15px; font-weight:500; margin:0 0 6px; }
  .verdict .chain { color:var(--muted); margin:0 0 6px; }
  .verdict h3 { font-size:13px; margin:8px 0 2px; font-weight:500; }
  .verdict ol { margin:4px 0 0; padding-left:20px; }
  .verdict .why, .card .why { color:var(--muted); }
  .card details { margin-top:6px; }
  .card summary { color:var(--muted); cursor:pointer; }
  .card.flash { animation: flash 1.2s ease-out; }
  @keyframes flash { from { box-shadow:0 0 0 4px var(--accent); } to { box-shadow:none; } }
  .lr-note { color:var(--muted); margin:0 0 12px; }
  .preflight { border:1px solid var(--line); border-radius:4px; padding:8px 12px; margin:0 0 12px; }
  .preflight h3 { font-size:13px; font-weight:500; margin:0 0 6px; }
  .preflight .summary { margin:0 0 6px; }
  .preflight ul { list-style:none; padding:0; margin:0; }
  .preflight li { display:flex; gap:8px; align-items:baseline; padding:2px 0; }
  .preflight li.failed { cursor:pointer; }
  .preflight li .title { font-weight:500; white-space:nowrap; }
  .preflight li .numbers { color:var(--muted); }
  .preflight .badge { min-width:44px; text-align:center; }
  .preflight .chart { height:220px; margin:8px 0 0; }
  .muted { color:var(--muted); }
  #sweeps { border-bottom:1px solid var(--line); max-height:40%; overflow:auto; }
  #sweeps:empty { display:none; }
  #sweeps .section { padding:8px 12px 2px; font-size:11px; color:var(--muted); letter-spacing:.04em; text-transform:uppercase; }
  .sweep { padding:8px 12px; cursor:pointer; display:flex; gap:8px; align-items:center; border-left:3px solid transparent; }
  .sweep:hover { background:var(--panel); }
  .sweep.selected { background:var(--panel); border-left-color:var(--accent); }
  .sweep .name { flex:1; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; font-weight:500; }
  .sweep-findings { list-style:none; padding:0; margin:4px 0 0; }
  .sweep-findings li { margin:4px 0; }
  .sweep-charts { display:flex; flex-wrap:wrap; gap:0 16px; }
  .sweep-charts .chart { flex:1 1 380px; min-width:320px; height:280px; }
  .sweep-charts .parcoords-box { flex-basis:100%; }
  .parcoords-box h3 { font-size:13px; font-weight:500; text-align:center; margin:8px 0 0; }
  .parcoords-box .chart { height:300px; margin-top:0; }
  table.sweep-table { border-collapse:collapse; width:100%; margin:4px 0 16px; }
  .sweep-table th { text-align:left; font-weight:500; padding:6px 8px; border-bottom:2px solid var(--line); cursor:pointer;
                    user-select:none; white-space:nowrap; position:sticky; top:0; background:var(--bg); }
  .sweep-table th .arrow { color:var(--accent); }
  .sweep-table td { padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
  .sweep-table td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
  .sweep-table tbody tr { cursor:pointer; }
  .sweep-table tbody tr:hover td { box-shadow:inset 0 1px var(--accent), inset 0 -1px var(--accent); }
  .sweep-table .codes { color:var(--muted); font-size:11px; }
  a.back { color:var(--accent); cursor:pointer; display:inline-block; margin-bottom:6px; }
  button.lang { border:1px solid var(--line); background:var(--bg); color:var(--fg); border-radius:4px; padding:2px 6px; cursor:pointer; }
  button.lang.active { border-color:var(--accent); color:var(--accent); }
`;

// view: 'sweep' (state.sweep indexes state.sweeps) or 'run' (state.selected); sort: the sweep table's column and order.
const state = {lang: 'en', strings: null, runs: [], selected: null, report: null, series: null, finding: null, filter: '',
               request: 0, sweeps: [], view: 'run', sweep: null, sort: {key: 'rank', dir: 1}};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.appendChild(child);
  return node;
}

const t = () => (state.strings ? state.strings[state.lang] : FALLBACK);
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (m, key) => (key in values ? String(values[key]) : m));
const place = (n, unit) => fill((t().units[unit] || t().units.step)[0], {n});
const span = (a, b, unit) => (a === b ? place(a, unit) : fill((t().units[unit] || t().units.step)[1], {a, b}));
// With the epoch length the run proved, a range of optimizer steps also says its epochs, as the CLI does.
const spanWithEpochs = (a, b, unit) => {
  const perEpoch = state.report && state.report.diagnosis && state.report.diagnosis.facts.steps_per_epoch;
  const text = span(a, b, unit);
  if (unit !== 'step' || !perEpoch || perEpoch < 2) return text;
  const epoch = (v) => Math.max(0, Math.floor((v - 1) / perEpoch));
  return `${text} (${fill((t().units.epoch)[1], {a: epoch(a), b: epoch(b)})})`;
};
const color = (name) => getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
// Plotly renders a subset of HTML in text: escape so a tag name stays text.
const plotlyText = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function badge(status) {
  return el('span', {class: 'badge', text: t().status[status] || status, style: `background:${color(status) || '#999'}`});
}

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  return new Promise((resolve, reject) => {
    const script = el('script', {src: './plotly.js'});
    script.onload = () => resolve(window.Plotly);
    script.onerror = () => reject(new Error('plotly.js did not load'));
    document.head.appendChild(script);
  });
}

// Runs of a sweep often share a long prefix ("exp/2026-11-30/resnet50_lr0.1_bs128_..."): when every listed name
// does, the list shows each from where they start to differ, after an ellipsis, with the whole name in the tooltip.
const SHARED_PREFIX_MIN = 16;
function sharedPrefix(names) {
  if (names.length < 2) return 0;
  let n = names[0].length;
  for (const name of names) {
    let i = 0;
    while (i < n && i < name.length && name[i] === names[0][i]) i++;
    n = i;
  }
  // Cut at a folder boundary when there is one in a long enough prefix, else at a word boundary (_ or -).
  const slash = names[0].lastIndexOf('/', n - 1) + 1;
  const cut = slash >= SHARED_PREFIX_MIN ? slash : Math.max(names[0].lastIndexOf('_', n - 1), names[0].lastIndexOf('-', n - 1)) + 1;
  return cut >= SHARED_PREFIX_MIN ? cut : 0;
}

function renderRunList() {
  const list = document.getElementById('runs');
  list.replaceChildren();
  const needle = state.filter.toLowerCase();
  const rows = state.runs.filter((row) => !needle || row.display.toLowerCase().includes(needle));
  const cut = sharedPrefix(rows.map((row) => row.display));  // of the runs listed: filtering to a sweep trims it
  for (const row of rows) {
    const counts = ['error', 'warning', 'info'].filter((s) => row.counts[s]).map((s) => `${row.counts[s]} ${t().status[s]}`);
    const count = el('span', {class: 'count', text: counts.join(' · ')});
    if (row.analysis_errors) {
      count.appendChild(el('span', {class: 'failed', text: `${counts.length ? ' · ' : ''}${t().analysisFailed}`}));
    }
    // data-run holds the raw name as an attribute value (never parsed as HTML); tests select runs by it.
    const selected = state.view === 'run' && row.run === state.selected;
    const item = el('div', {class: 'run' + (selected ? ' selected' : ''), 'data-run': row.run, title: row.display,
                            onclick: () => selectRun(row.run)},
      badge(row.status), el('span', {class: 'name', text: cut ? '…' + row.display.slice(cut) : row.display}), count);
    list.appendChild(item);
  }
}

function findingCard(f, index, related) {
  const card = el('div', {class: 'card' + (state.finding === index ? ' selected' : ''), 'data-code': f.code,
                          style: `border-left-color:${color(f.severity)}`, onclick: () => selectFinding(index)});
  card.appendChild(el('h3', {}, badge(f.severity), document.createTextNode(' ' + f.title)));
  const where = f.stage === 'preflight' ? t().beforeTraining : spanWithEpochs(f.start_step, f.end_step, f.unit);
  const meta = [f.code, where, `${t().confidence} ${f.confidence.toFixed(2)}`];
  if (related) meta.push(related);
  card.appendChild(el('div', {class: 'meta', text: meta.join(' · ')}));
  card.appendChild(el('div', {class: 'message', text: f.message}));
  // Suggestions collapsed: the top actions are above; these are every change this finding alone asks for.
  const list = el('ol');
  for (const s of f.suggestions) {
    list.appendChild(el('li', {}, el('span', {text: s.action + ' '}), el('span', {class: 'why', text: s.why})));
  }
  const details = el('details', {onclick: (e) => e.stopPropagation()}, el('summary', {text: `${t().suggestions} (${f.suggestions.length})`}), list);
  card.appendChild(details);
  return card;
}

function verdictPanel(d, status) {
  const panel = el('div', {class: 'verdict', style: `border-left-color:${color(status) || color('line')}`});
  panel.appendChild(el('p', {class: 'headline', text: d.verdict}));
  if (d.chain.length > 1) panel.appendChild(el('p', {class: 'chain', text: `${t().why}: ` + d.chain.map((c) => c.text).join(' → ')}));
  if (d.actions.length) {
    panel.appendChild(el('h3', {text: t().actions}));
    const list = el('ol', {class: 'actions'});
    for (const a of d.actions) {
      list.appendChild(el('li', {'data-action': a.id}, el('span', {text: a.action + ' '}), el('span', {class: 'why', text: a.why})));
    }
    panel.appendChild(list);
    if (d.actions_total > d.actions.length) {
      panel.appendChild(el('p', {class: 'muted', text: fill(t().moreActions, {n: d.actions_total - d.actions.length})}));
    }
  }
  return panel;
}

// The pre-flight checks (run on a clone of the model before the first step): every check that ran, passed or not,
// with its numbers, and the learning-rate range test's curve when it ran. A failed check is also a finding below;
// clicking its row scrolls to that finding.
const CHECK_COLOR = {passed: 'ok', failed: 'error', not_applicable: 'no_data'};

function checklistPanel(p) {
  const panel = el('div', {class: 'preflight', id: 'preflight'});
  panel.appendChild(el('h3', {text: t().preflight}));
  panel.appendChild(el('p', {class: 'summary', text: p.headline}));
  const list = el('ul');
  for (const c of p.checks) {
    const item = el('li', {class: c.status, 'data-check': c.code, 'data-status': c.status, title: c.code},
      el('span', {class: 'badge', text: t().preflightStatus[c.status], style: `background:${color(CHECK_COLOR[c.status])}`}),
      el('span', {class: 'title', text: c.title}),
      el('span', {class: 'numbers', text: c.text}));
    if (c.status === 'failed') item.addEventListener('click', () => showFinding(c.code));
    list.appendChild(item);
  }
  panel.appendChild(list);
  const range = p.checks.find((c) => c.code === 'lr_range_test' && c.series.lr && c.series.curve_loss);
  if (range) panel.appendChild(el('div', {class: 'chart', id: 'chart-lr-range', 'data-title': t().lrRange}));
  return panel;
}

function showFinding(code) {
  const card = [...document.querySelectorAll('.card')].find((c) => c.dataset.code === code);
  if (!card) return;
  if (card.scrollIntoView) card.scrollIntoView({behavior: 'smooth', block: 'center'});
  card.classList.remove('flash');
  void card.offsetWidth;  // restart the animation
  card.classList.add('flash');
}

// The range test's loss against its learning rate (log axis), with the suggested and the compiled rates marked.
async function drawLrRange(Plotly) {
  const div = document.getElementById('chart-lr-range');
  const p = state.report && state.report.preflight;
  if (!div || !p) return;
  const check = p.checks.find((c) => c.code === 'lr_range_test');
  const lr = state.series.series[check.series.lr], loss = state.series.series[check.series.curve_loss];
  if (!lr || !loss) { div.style.display = 'none'; return; }
  const at = new Map(lr.steps.map((step, i) => [step, lr.values[i]]));
  const points = loss.steps.map((step, i) => [at.get(step), loss.values[i]]).filter(([x, y]) => typeof x === 'number' && typeof y === 'number');
  const trace = {x: points.map(([x]) => x), y: points.map(([, y]) => y), mode: 'lines+markers', type: 'scatter',
                 name: plotlyText(t().lrRangeLoss), marker: {size: 4}, line: {color: color('info')}};
  const marks = [['suggested_lr', t().lrSuggested, color('ok')], ['compiled_lr', t().lrCompiled, color('warning')]]
    .filter(([key]) => typeof check.numbers[key] === 'number' && check.numbers[key] > 0);
  const shapes = marks.map(([key, , c]) => ({type: 'line', xref: 'x', yref: 'paper', x0: check.numbers[key], x1: check.numbers[key],
                                             y0: 0, y1: 1, line: {color: c, width: 2, dash: 'dot'}, name: key}));
  const annotations = marks.map(([key, label, c], i) => ({x: Math.log10(check.numbers[key]), y: 1 - 0.12 * i, xref: 'x', yref: 'paper',
    text: plotlyText(fill(label, {value: Number(check.numbers[key].toPrecision(3))})), showarrow: false, xanchor: 'left',
    font: {size: 11, color: c}}));
  const layout = chartLayout(plotlyText(div.dataset.title), {shapes, annotations, margin: {l: 50, r: 10, t: 30, b: 40},
    xaxis: {type: 'log', title: {text: plotlyText(t().lrRangeAxis)}}, yaxis: {title: {text: plotlyText(t().lrRangeLoss)}}});
  await Plotly.react(div, [trace], layout, {displaylogo: false, responsive: true});
}

function renderMain() {
  const main = document.getElementById('main');
  main.replaceChildren();
  const r = state.report;
  if (!r) {
    main.appendChild(el('p', {class: 'muted', text: state.runs.length ? t().pick : ''}));
    return;
  }
  const shown = r.display;
  const d = shown.diagnosis;
  const home = state.sweeps.findIndex((sw) => sw.runs.some((row) => row.run === r.run));
  if (home >= 0) {
    main.appendChild(el('a', {class: 'back', 'data-sweep': state.sweeps[home].name, text: fill(t().backToSweep, {name: state.sweeps[home].display.name}),
                              onclick: () => selectSweep(home)}));
  }
  main.appendChild(el('h2', {}, badge(r.status), document.createTextNode(' ' + shown.run)));
  // What is wrong and what to try first, above everything else; then the pre-flight checklist (when the run wrote
  // one); then the curves; then the findings.
  if (d) main.appendChild(verdictPanel(d, r.status));
  if (shown.preflight) main.appendChild(checklistPanel(shown.preflight));
  main.appendChild(el('p', {class: 'best', text: d && d.best ? `${t().best} ${d.best}` : t().noBest}));
  const roles = Object.entries(shown.roles).map(([role, info]) => `${role}=${info.tag}`).join(' · ');
  if (roles) main.appendChild(el('p', {class: 'muted', text: `${t().tags}: ${roles}`}));
  main.appendChild(el('p', {class: 'lr-note', id: 'lr-note', style: 'display:none'}));
  for (const [id, title] of [['loss', t().losses], ['batch', t().batch], ['metric', t().metrics], ['lr', t().lr], ['signal', t().signal]]) {
    main.appendChild(el('div', {id: `chart-${id}`, class: 'chart', 'data-title': title}));
  }
  main.appendChild(el('h3', {class: 'findings-heading', text: t().findings}));
  if (!shown.findings.length) main.appendChild(el('p', {text: t().nothing}));
  const why = Object.fromEntries((d ? d.related : []).map((x) => [x.code, x.why]));
  shown.findings.forEach((f, i) => main.appendChild(findingCard(f, i, why[f.code])));
  errorList(main, 'read-errors', t().errors, shown.errors);
  errorList(main, 'analysis-errors', t().analysisErrors, shown.analysis_errors);
  drawCharts();
}

// Read problems (the logs) and analysis failures (our bug) are listed apart, each under its own heading.
function errorList(parent, cls, heading, errors) {
  if (!errors.length) return;
  const list = el('ul');
  for (const e of errors) list.appendChild(el('li', {text: e}));
  parent.appendChild(el('div', {class: cls}, el('h3', {text: heading}), list));
}

// Batch-level losses get their own chart: Keras logs them per batch but epoch
// values per epoch index, so one shared x axis would squash one of the two.
// `signal`: the callback's gradient norms and the per-layer series its findings cite;
// they span orders of magnitude, hence a log axis like the learning rate's.
const GROUPS = {loss: ['train_loss', 'val_loss'], batch: ['batch_loss'], metric: ['train_metric', 'val_metric'], lr: ['lr'],
                signal: ['signal']};

// A series over more than 3 decades (a NaN run's loss reaching 3e22) would flatten every other point on a linear axis.
const LOG_DECADES = 3;

function spansDecades(entries) {
  let lo = Infinity, hi = -Infinity;
  for (const [, s] of entries) {
    for (const v of s.values) {
      if (typeof v !== 'number') continue;
      if (v <= 0) return false;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  return isFinite(lo) && hi / lo > 10 ** LOG_DECADES;
}

// A constant learning rate is one number, not a chart.
function constantLr(entries) {
  if (entries.length !== 1) return null;
  const [tag, s] = entries[0];
  const values = s.values.filter((v) => typeof v === 'number');
  if (!values.length || s.nonfinite.length) return null;
  const lo = Math.min(...values), hi = Math.max(...values);
  return hi <= lo * 1.0001 ? {value: values[0], tag: s.display || tag} : null;
}

async function drawCharts() {
  if (!state.series || !state.report) return;
  const token = state.request;
  const Plotly = await loadPlotly();
  if (token !== state.request) return;
  for (const [id, roles] of Object.entries(GROUPS)) {
    const div = document.getElementById(`chart-${id}`);
    if (!div) continue;
    const entries = Object.entries(state.series.series).filter(([, s]) => s.roles.some((role) => roles.includes(role)) &&
      !(id === 'batch' && s.roles.some((role) => GROUPS.loss.includes(role))));
    if (!entries.length) { div.style.display = 'none'; continue; }
    const flat = id === 'lr' ? constantLr(entries) : null;
    if (flat) {
      div.style.display = 'none';
      const note = document.getElementById('lr-note');
      note.textContent = fill(t().lrConstant, flat);
      note.style.display = '';
      continue;
    }
    const traces = [];
    let top = -Infinity;
    for (const [tag, s] of entries) {
      traces.push({x: s.steps, y: s.values, name: plotlyText(s.display), meta: tag, mode: s.steps.length > 60 ? 'lines' : 'lines+markers', type: 'scatter'});
      for (const v of s.values) if (typeof v === 'number' && v > top) top = v;
    }
    for (const [, s] of entries) {
      if (!s.nonfinite.length) continue;
      // Charts elsewhere silently drop NaN points; here each one gets a red marker on top.
      traces.push({x: s.nonfinite.map((p) => p.step), y: s.nonfinite.map(() => (isFinite(top) ? top : 0)),
                   name: plotlyText(`${s.display} ${t().nonfinite}`), mode: 'markers', type: 'scatter',
                   marker: {symbol: 'x', size: 10, color: color('error')},
                   text: s.nonfinite.map((p) => `${p.value} @ ${p.step}`), hoverinfo: 'text+name'});
    }
    const tags = new Set(entries.map(([tag]) => tag));
    const units = new Set(entries.map(([, s]) => s.unit || 'step'));
    const unit = units.size === 1 ? [...units][0] : 'step';
    // A finding's range is on its own axis (steps or epochs); on a chart of the other kind it is converted with the
    // epoch length the run proved (steps count from 1, epochs from 0), or left off when there is none.
    const perEpoch = state.report.diagnosis && state.report.diagnosis.facts.steps_per_epoch;
    const onChart = (v, from) => (from === unit ? v : !perEpoch ? null : unit === 'epoch' ? (v - 1) / perEpoch : (v + 1) * perEpoch);
    const shapes = [];
    state.report.findings.forEach((f, i) => {
      if (f.start_step == null || !(f.series.some((tag) => tags.has(tag)) || (id === 'loss' && !f.series.length))) return;
      const x0 = onChart(f.start_step, f.unit || 'step'), x1 = onChart(f.end_step, f.unit || 'step');
      if (x0 == null || x1 == null) return;
      const selected = state.finding === i;
      shapes.push({type: 'rect', xref: 'x', yref: 'paper', x0, x1: x1 === x0 ? x1 + 0.5 : x1, y0: 0, y1: 1,
                   fillcolor: color(f.severity), opacity: selected ? 0.3 : 0.1, layer: 'below',
                   line: {width: selected ? 2 : 0, color: color(f.severity)}, name: selected ? 'selected' : f.code});
    });
    const axisWord = fill((t().units[unit] || t().units.step)[0], {n: ''}).trim();
    const log = id === 'lr' || id === 'signal' || spansDecades(entries);
    const grid = {gridcolor: color('line'), zerolinecolor: color('line'), linecolor: color('line')};
    const layout = {title: {text: div.dataset.title, font: {size: 13}}, margin: {l: 50, r: 10, t: 30, b: 30}, shapes,
                    paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: 'rgba(0,0,0,0)', font: {color: color('fg')},
                    showlegend: true, legend: {orientation: 'h'},
                    xaxis: {title: {text: axisWord}, ...grid}, yaxis: {type: log ? 'log' : 'linear', ...grid}};
    if (token !== state.request) return;
    await Plotly.react(div, traces, layout, {displaylogo: false, responsive: true});
  }
  if (token === state.request) await drawLrRange(Plotly);
}

// -- sweeps -------------------------------------------------------------------------------------------------------

async function loadSweeps() {
  try {
    state.sweeps = (await getJSON(`./sweeps?${new URLSearchParams({lang: state.lang})}`)).sweeps;
  } catch (err) {
    state.sweeps = [];  // the runs' own diagnoses do not depend on it
  }
  if (state.view === 'sweep' && !state.sweeps[state.sweep]) state.view = 'run';
}

function renderSweepList() {
  const box = document.getElementById('sweeps');
  if (!box) return;
  box.replaceChildren();
  if (!state.sweeps.length) return;
  box.appendChild(el('div', {class: 'section', text: t().sweeps}));
  state.sweeps.forEach((sw, i) => {
    const failed = sw.runs.filter((r) => r.failed).length;
    const count = el('span', {class: 'count', text: `${sw.runs.length} ${t().sweep.runs}`});
    if (failed) count.appendChild(el('span', {class: 'failed', text: ` · ${fill(t().sweepFailed, {n: failed})}`}));
    const selected = state.view === 'sweep' && state.sweep === i;
    box.appendChild(el('div', {class: 'sweep' + (selected ? ' selected' : ''), 'data-sweep': sw.name, title: sw.display.name,
                               onclick: () => selectSweep(i)}, el('span', {class: 'name', text: sw.display.name}), count));
  });
}

function selectSweep(index) {
  state.view = 'sweep';
  state.sweep = index;
  state.selected = null;
  state.report = null;
  state.sort = {key: 'rank', dir: 1};
  ++state.request;  // a run's answer still on its way is not painted over the sweep
  renderRunList();
  renderSweepList();
  renderSweep();
}

// Worst first, as the run list orders runs.
const STATUS_RANK = {error: 0, warning: 1, info: 2, ok: 3, no_data: 4};
const number = (v) => (typeof v === 'number' && isFinite(v) ? v : null);
const short = (v) => (v == null ? '–' : typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v));

function renderSweep() {
  const main = document.getElementById('main');
  main.replaceChildren();
  const sw = state.sweeps[state.sweep];
  if (!sw) return;
  const d = sw.display, words = t().sweep;
  main.appendChild(el('h2', {class: 'sweep-title', text: fill(t().sweepTitle, {name: d.name})}));
  const better = sw.metric.direction === 'max' ? t().higherBetter : t().lowerBetter;
  main.appendChild(el('p', {class: 'muted', text: `${sw.runs.length} ${words.runs} · ${words.metric} ${d.metric.tag ?? '?'} (${better})`}));
  // What the sweep says and what to search next, first, as a run's verdict comes before its curves.
  const worst = sw.findings.reduce((w, f) => (STATUS_RANK[f.severity] < STATUS_RANK[w] ? f.severity : w), 'ok');
  const panel = el('div', {class: 'verdict sweep-summary', style: `border-left-color:${color(worst)}`});
  panel.appendChild(el('h3', {text: t().findings}));
  if (!sw.findings.length) panel.appendChild(el('p', {class: 'muted', text: t().sweepNothing}));
  const findings = el('ul', {class: 'sweep-findings'});
  sw.findings.forEach((f, i) => findings.appendChild(
    el('li', {'data-code': f.code}, badge(f.severity), document.createTextNode(' ' + d.findings[i].message))));
  panel.appendChild(findings);
  if (sw.advice.length) {
    panel.appendChild(el('h3', {text: t().sweepAdvice}));
    const advice = el('ol', {class: 'sweep-advice'});
    sw.advice.forEach((a, i) => advice.appendChild(el('li', {'data-advice': a.id, text: d.advice[i].message})));
    panel.appendChild(advice);
  }
  main.appendChild(panel);
  const charts = el('div', {class: 'sweep-charts'});
  for (const h of importantHparams(sw)) charts.appendChild(el('div', {class: 'chart sweep-scatter', 'data-hparam': h}));
  if (sw.hparams.length >= 3) {
    charts.appendChild(el('div', {class: 'parcoords-box'}, el('h3', {text: t().allHparams}), el('div', {class: 'chart', id: 'sweep-parcoords'})));
  }
  main.appendChild(charts);
  main.appendChild(el('p', {class: 'muted', text: t().sweepHint}));
  main.appendChild(sweepTable(sw));
  drawSweepCharts(sw);
}

// The hyperparameters worth a chart: those the analysis did not find without effect (the seed is none of them);
// when none has a measurable effect, the one that comes closest.
function importantHparams(sw) {
  const none = new Set(sw.findings.filter((f) => f.code === 'no_effect').map((f) => f.hparam));
  const some = sw.importance.filter((i) => !none.has(i.hparam)).map((i) => i.hparam);
  return some.length ? some : sw.importance.slice(0, 1).map((i) => i.hparam);
}

const COMPARE_AS = {
  rank: (row) => (row.rank >= 0 ? row.rank : null),
  run: (row) => row.shown.run,
  best: (row) => number(row.r.best_value),
  step: (row) => row.r.best_step,
  status: (row) => STATUS_RANK[row.r.status],
  verdict: (row) => row.shown.verdict,
};

function sortValue(row, key) {
  if (key.startsWith('hp:')) {
    const v = row.r.hparams[key.slice(3)];
    return v === undefined ? null : v;
  }
  return COMPARE_AS[key](row);
}

// Nulls (an unranked run, a missing value) last in either order; numbers before text.
function compareRows(a, b, key, dir) {
  const x = sortValue(a, key), y = sortValue(b, key);
  if (x == null || y == null) return x == null && y == null ? 0 : x == null ? 1 : -1;
  if (typeof x === 'number' && typeof y === 'number') return dir * (x - y);
  if (typeof x === 'number' || typeof y === 'number') return typeof x === 'number' ? -1 : 1;
  return dir * String(x).localeCompare(String(y));
}

function sweepTable(sw) {
  const d = sw.display;
  const columns = [
    {key: 'rank', label: '#', num: true},
    {key: 'run', label: t().colRun},
    ...sw.hparams.map((h, i) => ({key: `hp:${h}`, label: d.hparams[i], num: sw.scale[h] !== 'category'})),
    {key: 'best', label: fill(t().colBest, {metric: d.metric.tag ?? '?'}), num: true},
    {key: 'step', label: t().colStep, num: true},
    {key: 'status', label: t().colStatus},
    {key: 'verdict', label: t().colVerdict},
  ];
  const {key, dir} = state.sort;
  const rows = sw.runs.map((r, i) => ({r, shown: d.runs[i], rank: sw.ranking.indexOf(r.run)}));
  rows.sort((a, b) => compareRows(a, b, key, dir) || a.shown.run.localeCompare(b.shown.run));
  const head = el('tr');
  for (const c of columns) {
    const sorted = c.key === key;
    head.appendChild(el('th', {'data-key': c.key, 'aria-sort': sorted ? (dir > 0 ? 'ascending' : 'descending') : 'none',
                               onclick: () => sortSweep(c.key)},
      document.createTextNode(c.label), sorted ? el('span', {class: 'arrow', text: dir > 0 ? ' ▲' : ' ▼'}) : null));
  }
  const body = el('tbody');
  const prefix = d.name === '.' ? '' : `${d.name}/`;
  for (const {r, shown, rank} of rows) {
    const tint = `color-mix(in srgb, ${color(r.status)} 14%, transparent)`;
    const tr = el('tr', {class: 'sweep-row', 'data-run': r.run, 'data-status': r.status, title: shown.run,
                         style: `background:${tint}; box-shadow:inset 4px 0 ${color(r.status)}`, onclick: () => selectRun(r.run)});
    tr.appendChild(el('td', {class: 'num', text: rank >= 0 ? String(rank + 1) : '–'}));
    tr.appendChild(el('td', {class: 'run-name', text: shown.run.startsWith(prefix) ? shown.run.slice(prefix.length) : shown.run}));
    for (const h of sw.hparams) tr.appendChild(el('td', {class: sw.scale[h] === 'category' ? '' : 'num', text: short(shown.hparams[h])}));
    tr.appendChild(el('td', {class: 'num', text: short(r.best_value)}));
    tr.appendChild(el('td', {class: 'num', text: short(r.best_step)}));
    tr.appendChild(el('td', {}, badge(r.status)));
    // No verdict: the run's analysis failed (a tb-recipe bug), which its own view details.
    const said = shown.verdict || (r.status === 'error' ? t().analysisFailed : '');
    tr.appendChild(el('td', {class: 'verdict-cell'}, el('div', {text: said}), el('div', {class: 'codes', text: r.codes.join(' · ')})));
    body.appendChild(tr);
  }
  return el('table', {class: 'sweep-table', id: 'sweep-table'}, el('thead', {}, head), body);
}

function sortSweep(key) {
  state.sort = {key, dir: state.sort.key === key ? -state.sort.dir : 1};
  const table = document.getElementById('sweep-table');
  if (table) table.replaceWith(sweepTable(state.sweeps[state.sweep]));
}

function chartLayout(title, extra) {
  const grid = {gridcolor: color('line'), zerolinecolor: color('line'), linecolor: color('line')};
  return {title: {text: title, font: {size: 13}}, margin: {l: 60, r: 10, t: 30, b: 45}, paper_bgcolor: 'rgba(0,0,0,0)',
          plot_bgcolor: 'rgba(0,0,0,0)', font: {color: color('fg')}, showlegend: false,
          ...extra, xaxis: {...grid, ...(extra.xaxis || {})}, yaxis: {...grid, ...(extra.yaxis || {})}};
}

// The best value of the sweep's metric against one hyperparameter, one point per run in its status colour; a run
// that failed (NaN or divergence) has no score worth placing and is marked with a red x along the top instead.
function scatter(sw, h) {
  const d = sw.display, i = sw.hparams.indexOf(h), scale = sw.scale[h] || 'linear';
  const points = sw.runs.map((r, j) => ({r, shown: d.runs[j], x: r.hparams[h]})).filter((p) => p.x !== undefined && p.x !== null);
  const ok = points.filter((p) => !p.r.failed && number(p.r.best_value) != null);
  const failed = points.filter((p) => p.r.failed);
  const values = ok.map((p) => p.r.best_value);
  const top = values.length ? (sw.metric.direction === 'max' ? Math.min(...values) : Math.max(...values)) : 0;
  const x = (p) => (scale === 'category' ? plotlyText(short(p.x)) : p.x);
  const hover = '%{text}<br>%{x} → %{y}<extra></extra>';
  const traces = [{type: 'scatter', mode: 'markers', x: ok.map(x), y: values, text: ok.map((p) => plotlyText(p.shown.run)),
                   customdata: ok.map((p) => p.r.run), hovertemplate: hover,
                   marker: {size: 11, color: ok.map((p) => color(p.r.status)), line: {width: 1, color: color('fg')}}}];
  if (failed.length) {
    traces.push({type: 'scatter', mode: 'markers', name: plotlyText(t().sweep.failed), x: failed.map(x), y: failed.map(() => top),
                 text: failed.map((p) => plotlyText(`${p.shown.run} · ${t().sweep.failed}`)), customdata: failed.map((p) => p.r.run),
                 hovertemplate: '%{text}<extra></extra>', marker: {symbol: 'x', size: 12, color: color('error')}});
  }
  const share = sw.importance.find((imp) => imp.hparam === h);
  const title = plotlyText(d.hparams[i] + (share ? ` · ${fill(t().varianceShare, {pct: Math.round(100 * share.score)})}` : ''));
  const spread = values.length && Math.min(...values) > 0 && Math.max(...values) / Math.min(...values) > 10 ** LOG_DECADES;
  return [traces, chartLayout(title, {
    xaxis: {type: scale === 'log' ? 'log' : scale === 'category' ? 'category' : 'linear', title: {text: plotlyText(d.hparams[i])}},
    yaxis: {type: spread ? 'log' : 'linear', title: {text: plotlyText(d.metric.tag ?? '')}},
  })];
}

// Every hyperparameter at once (3 or more): one line per scored run, coloured by its status.
function parcoords(sw) {
  const d = sw.display;
  const rows = sw.runs.map((r, j) => ({r, shown: d.runs[j]}))
    .filter(({r}) => number(r.best_value) != null && sw.hparams.every((h) => r.hparams[h] !== undefined && r.hparams[h] !== null));
  const dimension = (label, scale, values) => {
    if (scale === 'category') {
      const kinds = [...new Set(values.map(short))];
      return {label, values: values.map((v) => kinds.indexOf(short(v))), tickvals: kinds.map((_, k) => k), ticktext: kinds.map(plotlyText)};
    }
    if (scale !== 'log') return {label, values};
    const logs = values.map(Math.log10);
    const decades = [];
    for (let e = Math.floor(Math.min(...logs)); e <= Math.ceil(Math.max(...logs)); e++) decades.push(e);
    return {label, values: logs, tickvals: decades, ticktext: decades.map((e) => `1e${e}`)};
  };
  const dimensions = sw.hparams.map((h, i) => dimension(plotlyText(d.hparams[i]), sw.scale[h], rows.map(({r}) => r.hparams[h])));
  dimensions.push({label: plotlyText(d.metric.tag ?? '?'), values: rows.map(({r}) => r.best_value)});
  const order = ['error', 'warning', 'info', 'ok', 'no_data'];
  const colorscale = order.map((s, k) => [k / (order.length - 1), color(s)]);
  const trace = {type: 'parcoords', dimensions, labelfont: {color: color('fg')}, tickfont: {color: color('fg')},
                 line: {color: rows.map(({r}) => STATUS_RANK[r.status]), colorscale, cmin: 0, cmax: order.length - 1}};
  return [[trace], chartLayout('', {margin: {l: 60, r: 60, t: 50, b: 20}})];  // titled by the heading above it
}

async function drawSweepCharts(sw) {
  const token = state.request;
  const Plotly = await loadPlotly();
  if (token !== state.request) return;
  const config = {displaylogo: false, responsive: true};
  for (const div of document.querySelectorAll('.sweep-scatter')) {
    const [traces, layout] = scatter(sw, div.dataset.hparam);
    await Plotly.react(div, traces, layout, config);
    if (token !== state.request) return;
    div.on('plotly_click', (event) => { const run = event.points[0] && event.points[0].customdata; if (run != null) selectRun(run); });
  }
  const div = document.getElementById('sweep-parcoords');
  if (div) await Plotly.react(div, ...parcoords(sw), {...config, displayModeBar: false});
}

async function selectRun(name) {
  state.view = 'run';
  state.selected = name;
  state.finding = null;
  const token = ++state.request;  // a later click wins: an earlier answer arriving late is dropped
  renderRunList();
  renderSweepList();
  const q = new URLSearchParams({run: name, lang: state.lang});
  let report, series;
  try {
    [report, series] = await Promise.all([getJSON(`./diagnosis?${q}`), getJSON(`./series?${q}`)]);
  } catch (err) {
    if (token !== state.request) return;
    state.report = null;
    const row = state.runs.find((r) => r.run === name);
    document.getElementById('main').replaceChildren(el('p', {text: `${t().failed} ${row ? row.display : ''}: ${err.message}`}));
    return;
  }
  if (token !== state.request) return;
  state.report = report;
  state.series = series;
  renderMain();
}

// Clicking a finding highlights its range on the charts that show its series and scrolls to the first of them.
function selectFinding(index) {
  state.finding = state.finding === index ? null : index;
  document.querySelectorAll('.card').forEach((card, i) => card.classList.toggle('selected', i === state.finding));
  drawCharts().then(() => {
    if (state.finding == null) return;
    const f = state.report.findings[state.finding];
    const shows = (div) => div.style.display !== 'none' && div.data && div.data.some((trace) => f.series.includes(trace.meta));
    const target = [...document.querySelectorAll('.chart')].find(shows) || document.getElementById('chart-loss');
    if (target && target.scrollIntoView) target.scrollIntoView({behavior: 'smooth', block: 'center'});
  });
}

function renderShell(root) {
  const header = el('header', {}, el('h1', {id: 'title', text: t().title}));
  for (const lang of ['en', 'zh']) {
    header.appendChild(el('button', {class: 'lang' + (state.lang === lang ? ' active' : ''), 'data-lang': lang,
                                      text: lang === 'en' ? 'EN' : '中文', onclick: () => setLang(lang)}));
  }
  const filter = el('input', {id: 'filter', type: 'search', placeholder: t().filter,
                              oninput: (e) => { state.filter = e.target.value; renderRunList(); }});
  filter.value = state.filter;
  root.replaceChildren(el('div', {id: 'sidebar'}, header, filter, el('div', {id: 'sweeps'}), el('div', {id: 'runs'})), el('div', {id: 'main'}));
}

async function setLang(lang) {
  state.lang = lang;
  renderShell(document.getElementById('app'));
  await loadSweeps();  // their findings and advice are sentences, in the language asked for
  renderSweepList();
  renderRunList();
  if (state.view === 'sweep' && state.sweeps[state.sweep]) renderSweep();
  else if (state.selected) await selectRun(state.selected);
  else renderMain();
}

// Follow TensorBoard's own theme toggle (it sets `dark-mode` on the top page's body);
// fall back to the system preference when the parent page is not reachable.
function followTheme() {
  let body = null;
  try { body = window.parent.document.body; } catch (err) { body = null; }
  const apply = () => {
    const dark = body ? body.classList.contains('dark-mode') : matchMedia('(prefers-color-scheme: dark)').matches;
    if (document.documentElement.classList.contains('dark') === dark) return;
    document.documentElement.classList.toggle('dark', dark);
    if (state.view === 'sweep' && state.sweeps[state.sweep]) renderSweep();
    else if (state.report) { renderRunList(); renderMain(); }
  };
  apply();
  if (body) new MutationObserver(apply).observe(body, {attributes: true, attributeFilter: ['class']});
}

export async function render() {
  document.head.appendChild(el('style', {text: CSS}));
  followTheme();
  const root = el('div', {id: 'app'});
  document.body.appendChild(root);
  try {
    state.strings = await getJSON('./strings');
  } catch (err) {
    root.replaceChildren(el('p', {text: `${FALLBACK.failed}: ${err.message}`}));
    return;
  }
  renderShell(root);
  try {
    state.runs = (await getJSON('./runs')).runs;
  } catch (err) {
    document.getElementById('main').replaceChildren(el('p', {text: `${t().failed}: ${err.message}`}));
    return;
  }
  if (!state.runs.length) {
    document.getElementById('main').replaceChildren(el('p', {text: t().noRuns}), el('pre', {text: t().emptyHelp}));
    return;
  }
  await loadSweeps();
  renderSweepList();
  renderRunList();
  // A logdir that holds a sweep opens on it: which runs worked and what to search next comes before any one run.
  if (state.sweeps.length) selectSweep(0);
  else await selectRun(state.runs[0].run);
}
