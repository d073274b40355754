// The Diagnosis tab: which runs are in trouble, what the curves say, what to change.
//
// TensorBoard loads this ES module in an iframe and calls render(). Every string
// that comes from log files (run names, tags, messages) is inserted with
// textContent or escaped before it reaches Plotly, never parsed as HTML.
// What is shown is always the routes' `display` form (control characters, bidi
// overrides and undecodable bytes written as \x1b, \u202e, \xff by the server's
// present.safe_text.visible); the raw `run` is used only to ask for a run.

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
  .muted { color:var(--muted); }
  button.lang { border:1px solid var(--line); background:var(--bg); color:var(--fg); border-radius:4px; padding:2px 6px; cursor:pointer; }
  button.lang.active { border-color:var(--accent); color:var(--accent); }
`;

const state = {lang: 'en', strings: null, runs: [], selected: null, report: null, series: null, finding: null, filter: '',
               request: 0};

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
    const item = el('div', {class: 'run' + (row.run === state.selected ? ' selected' : ''), 'data-run': row.run, title: row.display,
                            onclick: () => selectRun(row.run)},
      badge(row.status), el('span', {class: 'name', text: cut ? '…' + row.display.slice(cut) : row.display}), count);
    list.appendChild(item);
  }
}

function findingCard(f, index, related) {
  const card = el('div', {class: 'card' + (state.finding === index ? ' selected' : ''), 'data-code': f.code,
                          style: `border-left-color:${color(f.severity)}`, onclick: () => selectFinding(index)});
  card.appendChild(el('h3', {}, badge(f.severity), document.createTextNode(' ' + f.title)));
  const meta = [f.code, spanWithEpochs(f.start_step, f.end_step, f.unit), `${t().confidence} ${f.confidence.toFixed(2)}`];
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
  main.appendChild(el('h2', {}, badge(r.status), document.createTextNode(' ' + shown.run)));
  // What is wrong and what to try first, above everything else; then the curves; then the findings.
  if (d) main.appendChild(verdictPanel(d, r.status));
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
}

async function selectRun(name) {
  state.selected = name;
  state.finding = null;
  const token = ++state.request;  // a later click wins: an earlier answer arriving late is dropped
  renderRunList();
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
  root.replaceChildren(el('div', {id: 'sidebar'}, header, filter, el('div', {id: 'runs'})), el('div', {id: 'main'}));
}

async function setLang(lang) {
  state.lang = lang;
  renderShell(document.getElementById('app'));
  renderRunList();
  if (state.selected) await selectRun(state.selected);
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
    if (state.report) { renderRunList(); renderMain(); }
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
  renderRunList();
  await selectRun(state.runs[0].run);
}
