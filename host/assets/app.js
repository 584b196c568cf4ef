// flow serve: keeps the status page current by polling the JSON API.
// Every name and log line reaches the page through textContent, never as
// markup, so a file named like HTML is shown, not run.
'use strict';

const POLL_MS = 2000;
const HIDDEN_POLL_MS = 15000;
const RUNS_SHOWN = 30;
const ITEMS_SHOWN = 40;
const OPEN_TAILS = 3;
const ORDER = ['error', 'running', 'preliminary'];

// h('td', {className: 'x'}, 'text', child): an element built without markup.
function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('aria-') || key === 'role') node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function itemUrl(job, item) {
  return '/jobs/' + encodeURIComponent(job) + '/items/' + encodeURIComponent(item);
}

function duration(ms) {
  if (ms === null || ms === undefined) return '…';
  if (ms < 1000) return ms + ' ms';
  const s = ms / 1000;
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + Math.round(s % 60) + ' s';
  return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

function outcomeText(run) {
  let text = run.outcome.replace('_', ' ');
  if (run.exit_code !== null && run.exit_code !== 0) text += ' (exit ' + run.exit_code + ')';
  if (run.signal !== null) text += ' (signal ' + run.signal + ')';
  return text;
}

function jobState(counts) {
  for (const state of ORDER) if (counts[state] > 0) return state;
  return counts.success > 0 ? 'success' : 'none';
}

function progressBar(counts) {
  const total = counts.success + counts.preliminary + counts.running + counts.error;
  const parts = ['success', 'running', 'preliminary', 'error'].filter((s) => counts[s] > 0);
  const label = total === 0 ? 'no items'
    : parts.map((s) => counts[s] + ' ' + s).join(', ');
  const bar = h('div', {className: 'bar', role: 'img', 'aria-label': label},
    parts.map((s) => {
      const seg = h('span', {className: s, title: counts[s] + ' ' + s});
      seg.style.width = (100 * counts[s] / total) + '%';
      return seg;
    }));
  const done = total === 0 ? 'no items yet' : counts.success + ' of ' + total + ' done';
  return [bar, h('div', {className: 'bar-label'}, done)];
}

function renderJobs(status) {
  const body = h('tbody');
  for (const job of status.jobs) {
    const c = job.counts;
    const num = (state) => h('td', {className: 'num ' + state + (c[state] === 0 ? ' zero' : ''),
      dataset: {label: state}}, c[state]);
    const last = job.last_run
      ? [h('a', {href: itemUrl(job.name, job.last_run.item)}, job.last_run.item), ' ',
         outcomeText(job.last_run), h('div', {className: 'muted'},
           new Date(job.last_run.started_at).toLocaleString() + ' · ' + duration(job.last_run.duration_ms))]
      : h('span', {className: 'muted'}, 'never');
    body.append(h('tr', {id: 'job-' + job.name},
      h('th', {scope: 'row', className: 'job-name'}, job.name),
      num('success'), num('preliminary'), num('running'), num('error'),
      h('td', {className: 'progress'}, progressBar(c)), h('td', {className: 'last'}, last)));
  }
  if (status.jobs.length === 0) body.append(h('tr', {}, h('td', {colSpan: 7}, 'No jobs configured.')));
  document.querySelector('#jobs tbody').replaceWith(body);
}

function renderGraph(status) {
  const byName = new Map(status.jobs.map((job) => [job.name, job]));
  for (const node of document.querySelectorAll('svg.graph .job')) {
    const job = byName.get(node.dataset.job);
    const state = job ? jobState(job.counts) : 'none';
    node.setAttribute('class', 'node job state-' + state);
    const title = node.querySelector('title');
    if (title && job) {
      const c = job.counts;
      title.textContent = 'job ' + job.name + ': ' + c.success + ' success, ' + c.preliminary +
        ' preliminary, ' + c.running + ' running, ' + c.error + ' error';
    }
  }
}

function itemCard(job, item, open) {
  const run = item.last_run;
  const facts = h('div', {className: 'facts'});
  const fact = (label, value) => facts.append(h('span', {}, label + ' ', h('b', {}, value)));
  if (run && run.exit_code !== null) fact('exit code', run.exit_code);
  if (run && run.signal !== null) fact('signal', run.signal);
  if (item.attempts > 0 || item.status === 'error') fact('attempts', item.attempts + ' of ' + item.retries);
  if (run) fact('last run', '#' + run.id + ', ' + duration(run.duration_ms));
  const card = h('article', {className: 'card ' + item.status},
    h('div', {className: 'card-head'},
      h('span', {className: 'badge ' + item.status}, item.status),
      h('span', {className: 'muted'}, job.name),
      h('a', {href: itemUrl(job.name, item.item)}, item.item)),
    h('p', {className: 'detail'}, item.detail),
    facts);
  if (item.log_tail.length > 0) {
    const details = h('details', {dataset: {key: job.name + '\u0000' + item.item}, open},
      h('summary', {}, 'Log tail (' + item.log_tail.length + ' lines)'),
      h('pre', {className: 'log'}, item.log_tail.join('\n')));
    card.append(details);
  }
  return card;
}

// A log tail starts open for the first few items in error the first time
// they are shown; after that it stays as the reader left it.
function wantOpen(job, item, open, shown, index) {
  const key = job.name + '\u0000' + item.item;
  return shown.has(key) ? open.has(key) : item.status === 'error' && index < OPEN_TAILS;
}

function renderAttention(status) {
  const root = document.getElementById('attention');
  const open = new Set([...root.querySelectorAll('details[open]')].map((d) => d.dataset.key));
  const shown = new Set([...root.querySelectorAll('details')].map((d) => d.dataset.key));
  const items = [];
  for (const job of status.jobs) {
    for (const item of job.items) if (item.status !== 'success') items.push([job, item]);
  }
  items.sort((a, b) => ORDER.indexOf(a[1].status) - ORDER.indexOf(b[1].status));
  const list = h('div', {className: 'cards'}, items.slice(0, ITEMS_SHOWN).map(([job, item], index) =>
    itemCard(job, item, wantOpen(job, item, open, shown, index))));
  const out = items.length === 0
    ? [h('p', {className: 'muted'}, 'Nothing: every item is a success.')]
    : [list, items.length > ITEMS_SHOWN
      ? h('p', {className: 'more'}, (items.length - ITEMS_SHOWN) + ' more; see /api/status') : null];
  root.replaceChildren(...out.filter(Boolean));
}

function renderTimeline(runs, now) {
  const root = document.getElementById('timeline');
  if (runs.length === 0) {
    root.replaceChildren(h('p', {className: 'muted'}, 'No runs yet.'));
    return;
  }
  const shown = runs.slice(0, RUNS_SHOWN).reverse();
  const end = (run) => Date.parse(run.ended_at || now);
  const from = Math.min(...shown.map((run) => Date.parse(run.started_at)));
  const to = Math.max(...shown.map(end), from + 1);
  const rows = shown.map((run) => {
    const bar = h('span', {className: 'tl-bar ' + run.outcome, title: outcomeText(run)});
    bar.style.left = (100 * (Date.parse(run.started_at) - from) / (to - from)) + '%';
    bar.style.width = (100 * (end(run) - Date.parse(run.started_at)) / (to - from)) + '%';
    return h('div', {className: 'tl-row'},
      h('div', {className: 'tl-label'}, h('span', {className: 'muted'}, '#' + run.id + ' ' + run.job + ' '),
        h('a', {href: itemUrl(run.job, run.item)}, run.item)),
      h('div', {className: 'tl-track', role: 'img',
        'aria-label': run.job + ' ' + run.item + ': ' + outcomeText(run) + ', ' + duration(run.duration_ms)}, bar),
      h('div', {className: 'tl-dur'}, duration(run.duration_ms)));
  });
  const axis = h('div', {className: 'tl-axis'},
    h('span', {}, new Date(from).toLocaleString()), h('span', {}, new Date(to).toLocaleString()));
  root.replaceChildren(h('div', {className: 'timeline'}, rows), axis);
}

function renderMeta(status, error) {
  const badge = document.getElementById('run-badge');
  const updated = document.getElementById('updated');
  if (error) {
    badge.className = 'badge offline';
    badge.textContent = 'offline';
    updated.textContent = 'cannot reach the server: ' + error;
    return;
  }
  badge.className = 'badge ' + (status.run_in_progress ? 'running' : 'idle');
  badge.textContent = status.run_in_progress ? 'run in progress' : 'idle';
  updated.textContent = 'updated ' + new Date(status.generated_at).toLocaleTimeString();
}

async function getJson(url) {
  const response = await fetch(url, {cache: 'no-store'});
  if (!response.ok) throw new Error(url + ': HTTP ' + response.status);
  return response.json();
}

// sections are only rebuilt when their data changed, so an open log or a
// focused link survives the polling
const last = {jobs: '', runs: ''};

async function refresh() {
  try {
    const [status, runs] = await Promise.all([
      getJson('/api/status'), getJson('/api/runs?limit=' + RUNS_SHOWN)]);
    const jobs = JSON.stringify([status.jobs, status.run_in_progress]);
    if (jobs !== last.jobs) {
      last.jobs = jobs;
      renderJobs(status);
      renderGraph(status);
      renderAttention(status);
    }
    const runKey = JSON.stringify(runs.runs);
    if (runKey !== last.runs) {
      last.runs = runKey;
      renderTimeline(runs.runs, status.generated_at);
    }
    renderMeta(status, null);
  } catch (error) {
    renderMeta(null, error.message || String(error));
  }
  setTimeout(refresh, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
}

document.addEventListener('DOMContentLoaded', refresh);
