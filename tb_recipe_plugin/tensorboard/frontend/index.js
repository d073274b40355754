// The Diagnosis tab: which runs are in trouble, what the curves say, what to change.
//
// TensorBoard loads this ES module in an iframe and calls render(). Every string
// that comes from log files (run names, tags, messages) is inserted with
// textContent or escaped before it reaches Plotly, never parsed as HTML.
// What is shown is always the routes' `display` form (control characters, bidi
// overrides and undecodable bytes written as \x1b, \u202e, \xff by the server's
// present.safe_text.visible); the raw `run` is used only to ask for a run.

const STRINGS = {
  en: {
    title: 'Diagnosis', filter: 'Filter runs', noRuns: 'No scalar data yet.',
    emptyHelp: 'Log training curves, e.g. model.fit(..., callbacks=[keras.callbacks.TensorBoard(log_dir="logs/run1")]), then reload.\n' +
      'For gradients, updates and activations too, add tb-recipe\'s callback:\n' +
      '  from tb_recipe_plugin.keras import DiagnosisCallback\n' +
      '  model.fit(..., callbacks=[keras.callbacks.TensorBoard("logs/run1"), DiagnosisCallback("logs/run1")])',
    best: 'Recommended checkpoint: step', noBest: 'No validation curve, so no recommended checkpoint.',
    steps: 'steps', confidence: 'confidence', suggestions: 'What to change', errors: 'Problems reading this run',
    analysisErrors: 'Analysis failed (a tb-recipe bug; please report it)', analysisFailed: 'analysis failed',
    losses: 'Loss', batch: 'Per-batch loss', metrics: 'Metrics', lr: 'Learning rate', signal: 'Gradients and activations (tb-recipe callback)', nothing: 'No problems found in this run.',
    pick: 'Select a run.', nonfinite: 'non-finite', failed: 'Could not load', tags: 'Tags used',
    status: {error: 'error', warning: 'warning', info: 'info', ok: 'ok', no_data: 'no data'},
  },
  zh: {
    title: '诊断', filter: '筛选运行', noRuns: '还没有标量数据。',
    emptyHelp: '先记录训练曲线，例如 model.fit(..., callbacks=[keras.callbacks.TensorBoard(log_dir="logs/run1")])，然后刷新。\n' +
      '想同时看到梯度、参数更新和激活统计，再加上 tb-recipe 的回调：\n' +
      '  from tb_recipe_plugin.keras import DiagnosisCallback\n' +
      '  model.fit(..., callbacks=[keras.callbacks.TensorBoard("logs/run1"), DiagnosisCallback("logs/run1")])',
    best: '推荐的检查点：第', noBest: '没有验证曲线，无法推荐检查点。',
    steps: '步', confidence: '置信度', suggestions: '建议的调整', errors: '读取此运行时的问题',
    analysisErrors: '分析失败（tb-recipe 的缺陷，请报告）', analysisFailed: '分析失败',
    losses: '损失', batch: '每个 batch 的损失', metrics: '指标', lr: '学习率', signal: '梯度与激活（tb-recipe 回调）', nothing: '此运行没有发现问题。',
    pick: '请选择一个运行。', nonfinite: '非有限值', failed: '无法加载', tags: '使用的标签',
    status: {error: '错误', warning: '警告', info: '提示', ok: '正常', no_data: '无数据'},
  },
};

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
  .muted { color:var(--muted); }
  button.lang { border:1px solid var(--line); background:var(--bg); color:var(--fg); border-radius:4px; padding:2px 6px; cursor:pointer; }
  button.lang.active { border-color:var(--accent); color:var(--accent); }
`;

const state = {lang: 'en', runs: [], selected: null, report: null, series: null, finding: null, filter: ''};

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

const t = () => STRINGS[state.lang];
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

function renderRunList() {
  const list = document.getElementById('runs');
  list.replaceChildren();
  const needle = state.filter.toLowerCase();
  for (const row of state.runs) {
    if (needle && !row.display.toLowerCase().includes(needle)) continue;
    const counts = ['error', 'warning', 'info'].filter((s) => row.counts[s]).map((s) => `${row.counts[s]} ${t().status[s]}`);
    const count = el('span', {class: 'count', text: counts.join(' · ')});
    if (row.analysis_errors) {
      count.appendChild(el('span', {class: 'failed', text: `${counts.length ? ' · ' : ''}${t().analysisFailed}`}));
    }
    // data-run holds the raw name as an attribute value (never parsed as HTML); tests select runs by it.
    const item = el('div', {class: 'run' + (row.run === state.selected ? ' selected' : ''), 'data-run': row.run, title: row.display,
                            onclick: () => selectRun(row.run)},
      badge(row.status), el('span', {class: 'name', text: row.display}), count);
    list.appendChild(item);
  }
}

function findingCard(f, index) {
  const card = el('div', {class: 'card' + (state.finding === index ? ' selected' : ''), 'data-code': f.code,
                          style: `border-left-color:${color(f.severity)}`, onclick: () => selectFinding(index)});
  card.appendChild(el('h3', {}, badge(f.severity), document.createTextNode(' ' + f.title)));
  card.appendChild(el('div', {class: 'meta', text: `${f.code} · ${t().steps} ${f.start_step}–${f.end_step} · ${t().confidence} ${f.confidence.toFixed(2)}`}));
  card.appendChild(el('div', {class: 'message', text: f.message}));
  const list = el('ol');
  for (const s of f.suggestions) {
    list.appendChild(el('li', {}, el('span', {text: s.action + ' '}), el('span', {class: 'why', text: s.why})));
  }
  card.appendChild(el('div', {class: 'meta', text: t().suggestions}));
  card.appendChild(list);
  return card;
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
  main.appendChild(el('h2', {}, badge(r.status), document.createTextNode(' ' + shown.run)));
  main.appendChild(el('p', {text: r.best_step == null ? t().noBest : `${t().best} ${r.best_step} (${shown.best_step_basis})`}));
  const roles = Object.entries(shown.roles).map(([role, info]) => `${role}=${info.tag}`).join(' · ');
  if (roles) main.appendChild(el('p', {class: 'muted', text: `${t().tags}: ${roles}`}));
  if (!shown.findings.length) main.appendChild(el('p', {text: t().nothing}));
  shown.findings.forEach((f, i) => main.appendChild(findingCard(f, i)));
  errorList(main, 'read-errors', t().errors, shown.errors);
  errorList(main, 'analysis-errors', t().analysisErrors, shown.analysis_errors);
  for (const [id, title] of [['loss', t().losses], ['batch', t().batch], ['metric', t().metrics], ['lr', t().lr], ['signal', t().signal]]) {
    main.appendChild(el('div', {id: `chart-${id}`, class: 'chart', 'data-title': title}));
  }
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

async function drawCharts() {
  if (!state.series || !state.report) return;
  const Plotly = await loadPlotly();
  for (const [id, roles] of Object.entries(GROUPS)) {
    const div = document.getElementById(`chart-${id}`);
    if (!div) continue;
    const entries = Object.entries(state.series.series).filter(([, s]) => s.roles.some((role) => roles.includes(role)) &&
      !(id === 'batch' && s.roles.some((role) => GROUPS.loss.includes(role))));
    if (!entries.length) { div.style.display = 'none'; continue; }
    const traces = [];
    let top = -Infinity;
    for (const [, s] of entries) {
      traces.push({x: s.steps, y: s.values, name: plotlyText(s.display), mode: s.steps.length > 60 ? 'lines' : 'lines+markers', type: 'scatter'});
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
    const shapes = [];
    state.report.findings.forEach((f, i) => {
      if (f.start_step == null || !(f.series.some((tag) => tags.has(tag)) || (id === 'loss' && !f.series.length))) return;
      const selected = state.finding === i;
      shapes.push({type: 'rect', xref: 'x', yref: 'paper', x0: f.start_step, x1: f.end_step === f.start_step ? f.end_step + 0.5 : f.end_step, y0: 0, y1: 1,
                   fillcolor: color(f.severity), opacity: selected ? 0.3 : 0.1, layer: 'below',
                   line: {width: selected ? 2 : 0, color: color(f.severity)}, name: selected ? 'selected' : f.code});
    });
    const layout = {title: {text: div.dataset.title, font: {size: 13}}, margin: {l: 50, r: 10, t: 30, b: 30}, shapes,
                    paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: 'rgba(0,0,0,0)', font: {color: color('fg')},
                    legend: {orientation: 'h'}, xaxis: {title: {text: 'step'}}, yaxis: {type: id === 'lr' || id === 'signal' ? 'log' : 'linear'}};
    await Plotly.react(div, traces, layout, {displaylogo: false, responsive: true});
  }
}

async function selectRun(name) {
  state.selected = name;
  state.finding = null;
  renderRunList();
  const q = new URLSearchParams({run: name, lang: state.lang});
  try {
    [state.report, state.series] = await Promise.all([getJSON(`./diagnosis?${q}`), getJSON(`./series?${q}`)]);
  } catch (err) {
    state.report = null;
    const row = state.runs.find((r) => r.run === name);
    document.getElementById('main').replaceChildren(el('p', {text: `${t().failed} ${row ? row.display : ''}: ${err.message}`}));
    return;
  }
  renderMain();
}

function selectFinding(index) {
  state.finding = state.finding === index ? null : index;
  document.querySelectorAll('.card').forEach((card, i) => card.classList.toggle('selected', i === state.finding));
  drawCharts();
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
