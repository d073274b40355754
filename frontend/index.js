// Diagnosis tab, first cut: the run list with status and finding counts.
// Everything from the logs is inserted with textContent, never as HTML.
export async function render() {
  const root = document.createElement('div');
  root.style.fontFamily = 'Roboto, sans-serif';
  root.style.padding = '16px';
  document.body.appendChild(root);
  const title = document.createElement('h2');
  title.textContent = 'Diagnosis';
  root.appendChild(title);
  let data;
  try {
    const response = await fetch('./runs');
    data = await response.json();
  } catch (err) {
    root.appendChild(Object.assign(document.createElement('p'), {textContent: `Could not load runs: ${err}`}));
    return;
  }
  if (!data.runs.length) {
    root.appendChild(Object.assign(document.createElement('p'), {
      textContent: 'No scalar data yet. Log with keras.callbacks.TensorBoard(log_dir=...) and reload.',
    }));
    return;
  }
  const table = document.createElement('table');
  for (const row of data.runs) {
    const tr = table.insertRow();
    for (const text of [row.run, row.status, `${row.counts.error} error, ${row.counts.warning} warning, ${row.counts.info} info`, row.codes.join(', ')]) {
      tr.insertCell().textContent = text;
    }
  }
  root.appendChild(table);
}
