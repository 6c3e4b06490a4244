// console.js is the whole console: sign-in, a page per hash (#providers,
// #keys, #usage, #log, #config), each drawn from the admin API under
// /api/v1/. Text from the API (key names, model names from clients) goes
// into the page only as text, never as HTML.
'use strict';

const state = {
  csrf: '',           // X-CSRF-Token for state-changing calls of a cookie session
  page: '',
  timer: 0,           // the refresh of the page shown
  events: [],         // the live log, newest first
  es: null,           // the EventSource of /api/v1/events
  esRetry: 0,
  newKey: null,       // {name, key}: the secret just created, shown once
  keyNames: {},       // key id -> name, for usage groups and the log
  signinPoll: 0,      // the status poll of a device sign-in shown
};
const MAX_EVENTS = 500;
const $ = sel => document.querySelector(sel);

// h builds an element: h('td', {class: 'num'}, 'text', child, ...). Strings
// become text nodes; attributes starting with "on" are listeners.
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) {
    const v = attrs[k];
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return e;
}

class APIError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// api calls the admin API; state-changing calls carry the CSRF token. A 401
// anywhere but the login itself means the session is over: back to sign-in.
async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = null; }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new APIError(res.status, e.code || '', e.message || `${res.status} ${res.statusText}`.trim(), res.headers.get('Retry-After'));
    if (res.status === 401 && path !== '/api/v1/login' && path !== '/api/v1/session') signedOut('Your session ended; sign in again.');
    throw err;
  }
  return data;
}

function errorText(err) {
  if (err instanceof APIError) return `${err.message} (${err.status}${err.code ? ' ' + err.code : ''})`;
  return String(err && err.message || err);
}

// ---- formatting ----

const fmtInt = n => (n === undefined || n === null) ? '' : Number(n).toLocaleString('en-US');
const fmtUSD = n => {
  n = Number(n || 0);
  if (n === 0) return '$0';
  if (Math.abs(n) < 0.01) return '$' + n.toPrecision(2);
  return '$' + n.toFixed(2);
};
const fmtShort = n => {
  n = Number(n || 0);
  if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(1).replace(/\.0$/, '') + 'G';
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1).replace(/\.0$/, '') + 'M';
  if (Math.abs(n) >= 1e3) return (n / 1e3).toFixed(1).replace(/\.0$/, '') + 'k';
  return String(Math.round(n * 100) / 100);
};
const pad = n => String(n).padStart(2, '0');
function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (isNaN(d)) return String(s);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
}
// until says how long is left until an RFC 3339 time, or '' when it is past.
function until(s) {
  if (!s) return '';
  const ms = new Date(s) - Date.now();
  if (!(ms > 0)) return '';
  const sec = Math.ceil(ms / 1000);
  if (sec < 120) return `${sec}s`;
  if (sec < 7200) return `${Math.round(sec / 60)}m`;
  if (sec < 172800) return `${Math.round(sec / 3600)}h`;
  return `${Math.round(sec / 86400)}d`;
}
const badge = (text, cls) => h('span', { class: 'badge ' + (cls || text) }, text);
const list = v => (v && v.length) ? v.join(', ') : 'all';
const splitList = s => s.split(',').map(x => x.trim()).filter(Boolean);

// ---- sign-in ----

function show(id) {
  for (const s of ['login', 'view', 'loading']) $('#' + s).hidden = s !== id;
  const inApp = id === 'view';
  $('#nav').hidden = !inApp;
  $('#logout').hidden = !inApp;
  $('#live').hidden = !inApp;
}

function signedOut(message) {
  state.csrf = '';
  clearInterval(state.timer);
  clearInterval(state.signinPoll);
  stopEvents();
  show('login');
  const p = $('#login-error');
  p.textContent = message || '';
  p.hidden = !message;
  $('#password').focus();
}

async function login(ev) {
  ev.preventDefault();
  const btn = $('#login-submit'), p = $('#login-error');
  btn.disabled = true;
  p.hidden = true;
  try {
    const res = await api('POST', '/api/v1/login', { password: $('#password').value });
    state.csrf = res.csrf_token || '';
    $('#password').value = '';
    signedIn();
  } catch (err) {
    if (err.status === 401) p.textContent = 'Wrong password (401).';
    else if (err.status === 429) p.textContent = `Too many attempts (429): try again in ${err.retryAfter || 60} s.`;
    else p.textContent = 'Cannot sign in: ' + errorText(err);
    p.hidden = false;
  } finally {
    btn.disabled = false;
  }
}

async function logout() {
  try { await api('POST', '/api/v1/logout', {}); } catch (_) { /* signed out either way */ }
  signedOut('');
}

function signedIn() {
  show('view');
  startEvents();
  route();
}

// ---- pages ----

const pages = { providers: providersPage, keys: keysPage, usage: usagePage, log: logPage, config: configPage };

function route() {
  if (!$('#login').hidden) return;
  let page = location.hash.replace(/^#/, '');
  if (!pages[page]) page = 'providers';
  state.page = page;
  // A new key's secret is shown once: leaving the keys page forgets it.
  if (page !== 'keys') state.newKey = null;
  clearInterval(state.timer);
  clearInterval(state.signinPoll);
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  const view = $('#view');
  view.replaceChildren();
  view.dataset.page = page;
  pages[page](view);
}

// every refreshes the page shown every ms milliseconds, until the page changes.
function every(ms, fn) {
  const page = state.page;
  state.timer = setInterval(() => { if (state.page === page && !document.hidden) fn(); }, ms);
}

// ---- providers ----

function providersPage(view) {
  const status = h('p', { id: 'providers-status' }, 'Loading…');
  const box = h('div', { id: 'providers' });
  const load = async () => {
    try {
      const res = await api('GET', '/api/v1/providers');
      status.replaceChildren('Overall: ', badge(res.status || 'unknown'), '  ', h('span', { class: 'hint' }, `refreshed ${fmtTime(new Date().toISOString())}`));
      box.replaceChildren(...(res.providers || []).map(providerCard));
      if (res.skipped_providers && res.skipped_providers.length) {
        box.append(h('p', { class: 'hint' }, 'Configured but not served (no keys): ' + res.skipped_providers.join(', ')));
      }
      if (!(res.providers || []).length) box.append(h('p', { class: 'empty' }, 'No provider is served.'));
    } catch (err) {
      status.replaceChildren(h('span', { class: 'error' }, 'Cannot read providers: ' + errorText(err)));
    }
  };
  view.append(h('h1', {}, 'Providers'), status, box, signInPanel(load));
  load();
  every(5000, load);
}

function providerCard(p) {
  const facts = [];
  const fact = (label, v) => { if (v !== undefined && v !== null) facts.push(`${label} ${v}`); };
  fact('protocol', p.protocol);
  fact('type', p.type);
  fact('open connections', p.conns_open);
  fact('in flight', p.in_flight);
  fact('queued', p.queued);
  fact('pending', p.pending);
  const card = h('div', { class: 'card provider', 'data-name': p.name },
    h('header', {}, h('span', { class: 'name' }, p.name), badge(p.status || 'unknown'), h('span', { class: 'facts' }, facts.join(' · '))));
  if (p.breaker) {
    const b = p.breaker;
    const left = until(b.open_until);
    card.append(h('p', { class: 'breaker' }, 'Circuit breaker: ', badge(b.state || 'unknown'),
      ` ${fmtInt(b.window_failures)} failures of ${fmtInt(b.window_requests)} requests in the window · ${fmtInt(b.consecutive_failures)} in a row · opened ${fmtInt(b.opens)} times`,
      left ? ` · open for ${left} more` : ''));
  }
  if (p.key_states && p.key_states.length) {
    card.append(h('h3', {}, 'Keys'), h('table', { class: 'keys' },
      h('thead', {}, h('tr', {}, ['label', 'state', 'cooldown', 'in flight', 'weight', 'ok / failed (window)'].map(t => h('th', {}, t)))),
      h('tbody', {}, p.key_states.map(k => {
        const wait = until(k.cooldown_until) || until(k.unhealthy_until) || until(k.disabled_until);
        return h('tr', { 'data-label': k.label },
          h('td', {}, k.label), h('td', {}, badge(k.state)), h('td', {}, wait ? `${wait} left` : '—'),
          h('td', { class: 'num' }, fmtInt(k.in_flight) + (k.max_concurrent ? ` / ${k.max_concurrent}` : '')),
          h('td', { class: 'num' }, fmtInt(k.weight)),
          h('td', { class: 'num' }, `${fmtInt(k.window_successes)} / ${fmtInt(k.window_failures)}`));
      }))));
  }
  if (p.accounts && p.accounts.length) {
    card.append(h('h3', {}, 'Subscription accounts'), h('table', { class: 'accounts' },
      h('thead', {}, h('tr', {}, ['account', 'token expiry', 'quota', 'problem'].map(t => h('th', {}, t)))),
      h('tbody', {}, p.accounts.map(a => h('tr', { 'data-label': a.label },
        h('td', {}, a.label), h('td', {}, a.expiry ? `${fmtTime(a.expiry)}${until(a.expiry) ? ' (in ' + until(a.expiry) + ')' : ' (expired; refreshed on next use)'}` : '—'),
        h('td', {}, quotaText(a.quota)), h('td', { class: a.last_error ? 'error' : '' }, a.last_error || '—'))))));
  }
  return card;
}

// quotaText shows whatever quota facts an account reports, by name.
function quotaText(q) {
  if (!q) return '—';
  if (typeof q !== 'object') return String(q);
  return Object.entries(q).map(([k, v]) => `${k.replace(/_/g, ' ')}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · ') || '—';
}

// signInPanel: a "Sign in" button per subscription provider and way of
// signing in. A browser sign-in shows the page to open and a box for the
// address the browser ends on (the pasted-redirect callback); a device
// sign-in shows the code to type and waits for it. Once signed in, the
// proxy reloads the provider and the account shows in its card (refresh()).
function signInPanel(refresh) {
  const rows = h('div', { id: 'signin-providers' }, 'Loading…');
  const flow = h('div', { id: 'signin-flow' });
  const card = h('div', { class: 'card', id: 'signin' }, h('h2', {}, 'Sign in a subscription account'), rows, flow);
  const label = m => m === 'device' ? 'Sign in with a code' : 'Sign in';
  (async () => {
    try {
      const res = await api('GET', '/api/v1/signins');
      const ps = res.providers || [];
      if (!ps.length) {
        rows.replaceChildren(h('p', { class: 'empty' }, 'No subscription provider (codex, gemini-cli, antigravity, copilot, kiro) is configured.'));
        return;
      }
      rows.replaceChildren(h('table', { class: 'signins' },
        h('thead', {}, h('tr', {}, ['provider', 'type', 'accounts folder', ''].map(t => h('th', {}, t)))),
        h('tbody', {}, ps.map(p => h('tr', { 'data-provider': p.name },
          h('td', {}, p.name), h('td', {}, p.type), h('td', {}, p.credentials || '—'),
          h('td', {}, p.problem ? h('span', { class: 'error' }, p.problem) :
            p.methods.map(m => h('button', { type: 'button', class: 'signin-start', 'data-method': m,
              onclick: () => startSignIn(flow, p, m, refresh) }, label(m)))))))));
    } catch (err) {
      rows.replaceChildren(h('span', { class: 'error' }, 'Sign-ins are not available: ' + errorText(err)));
    }
  })();
  return card;
}

// webLink is u when it is a web address, so that an address from the API
// never becomes a javascript: link.
const webLink = u => /^https?:/i.test(u || '') ? u : undefined;

async function startSignIn(box, p, method, refresh) {
  if (state.signinPoll) clearInterval(state.signinPoll);
  box.replaceChildren(h('p', {}, `Starting the sign-in for ${p.name}…`));
  let v;
  try {
    v = await api('POST', '/api/v1/signins', { provider: p.name, method });
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error', id: 'signin-result' }, 'The sign-in could not start: ' + errorText(err)));
    return;
  }
  const result = h('p', { id: 'signin-result' });
  const done = v => {
    if (v.state === 'done') {
      result.replaceChildren(h('span', { class: 'ok' }, `Signed in: ${v.account}` + (v.file && v.file !== v.account ? ` (saved to ${v.file})` : ` (saved)`)), v.error ? h('span', { class: 'error' }, ' ' + v.error) : '');
      box.querySelectorAll('input, button').forEach(e => { e.disabled = true; });
      refresh();
      return true;
    }
    if (v.state === 'failed') {
      result.replaceChildren(h('span', { class: 'error' }, 'Sign-in failed: ' + (v.error || 'unknown')));
      box.querySelectorAll('input, button').forEach(e => { e.disabled = true; });
      return true;
    }
    return false;
  };
  const expires = h('p', { class: 'hint' }, `This sign-in expires at ${fmtTime(v.expires_at)}.`);
  if (v.method === 'browser') {
    const paste = h('input', { id: 'signin-redirect', name: 'redirect_url', size: 80, autocomplete: 'off',
      placeholder: (v.redirect_prefix || '') + '?code=…&state=…' });
    const form = h('form', { id: 'signin-complete', onsubmit: async ev => {
      ev.preventDefault();
      result.replaceChildren('Exchanging the code…');
      try {
        done(await api('POST', '/api/v1/signins/' + encodeURIComponent(v.id), { redirect_url: paste.value }));
      } catch (err) {
        result.replaceChildren(h('span', { class: 'error' }, errorText(err)));
      }
    } }, paste, ' ', h('button', { type: 'submit' }, 'Finish sign-in'));
    box.replaceChildren(h('h3', {}, `${p.name}: sign in in a browser`),
      h('p', {}, '1. Open ', h('a', { id: 'signin-url', href: webLink(v.authorize_url), target: '_blank', rel: 'noopener noreferrer' }, 'the sign-in page'), ' and sign in.'),
      h('p', {}, `2. The browser ends on an address starting with ${v.redirect_prefix} (the page may not load: that is expected). Copy that whole address from the address bar and paste it here:`),
      form, result, expires);
    return;
  }
  box.replaceChildren(h('h3', {}, `${p.name}: sign in with a code`),
    h('p', {}, 'Open ', h('a', { id: 'signin-verify', href: webLink(v.verification_url), target: '_blank', rel: 'noopener noreferrer' }, v.verification_url),
      ' on any device, sign in, and enter this code (never share it):'),
    h('p', { class: 'usercode', id: 'signin-code' }, v.user_code),
    result, expires);
  result.replaceChildren('Waiting for the code to be entered…');
  const poll = async () => {
    try {
      if (done(await api('GET', '/api/v1/signins/' + encodeURIComponent(v.id)))) clearInterval(state.signinPoll);
    } catch (err) {
      result.replaceChildren(h('span', { class: 'error' }, errorText(err)));
      clearInterval(state.signinPoll);
    }
  };
  state.signinPoll = setInterval(poll, 1000);
}

// ---- virtual keys ----

async function loadKeys() {
  const res = await api('GET', '/api/v1/keys');
  const keys = res.keys || [];
  for (const k of keys) state.keyNames[k.id] = k.name;
  return keys;
}

function keysPage(view) {
  const msg = h('div', { id: 'keys-message' });
  const tbody = h('tbody');
  const form = keyForm('create-key', {}, async body => {
    const res = await api('POST', '/api/v1/keys', body);
    state.newKey = { name: res.item && res.item.name || body.name, key: res.key };
    form.reset();
    await load();
  });
  view.append(h('h1', {}, 'Virtual keys'),
    h('div', { class: 'card' }, h('h2', {}, 'Create a key'), form),
    msg,
    h('table', { id: 'keys-table' },
      h('thead', {}, h('tr', {}, ['name', 'prefix', 'models', 'providers', 'rpm', 'tpm', 'budget', 'spent', 'expires', 'status', ''].map(t => h('th', {}, t)))),
      tbody));
  const load = async () => {
    if (state.newKey) {
      const { name, key } = state.newKey;
      msg.replaceChildren(h('div', { class: 'notice secret', id: 'new-key' },
        h('strong', {}, `Key for ${name} — copy it now, it is not shown again: `),
        h('code', { id: 'new-key-secret' }, key), ' ',
        h('button', { type: 'button', onclick: () => copy(key) }, 'Copy'), ' ',
        h('button', { type: 'button', onclick: () => { state.newKey = null; msg.replaceChildren(); } }, 'Done')));
    }
    try {
      const keys = await loadKeys();
      tbody.replaceChildren(...keys.map(k => keyRow(k, load, msg)));
      if (!keys.length) tbody.append(h('tr', {}, h('td', { colspan: 11, class: 'empty' }, 'No virtual key yet.')));
    } catch (err) {
      msg.append(h('div', { class: 'notice error' }, 'Cannot list keys: ' + errorText(err)));
    }
  };
  load();
}

function copy(text) {
  if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
}

// keyForm edits the writable fields of a key; submit gets the API body.
function keyForm(id, k, submit) {
  const b = k.budget || {};
  const input = (name, label, attrs) => h('label', {}, label, h('input', Object.assign({ name }, attrs)));
  const select = (name, label, options, value) => h('label', {}, label,
    h('select', { name }, options.map(o => h('option', { value: o, selected: o === value }, o))));
  const err = h('p', { class: 'error', hidden: true });
  const form = h('form', { class: 'grid', id },
    input('name', 'name', { required: true, value: k.name || '', maxlength: 200 }),
    input('models', 'models (comma-separated; empty: all)', { value: (k.models || []).join(', ') }),
    input('providers', 'providers (comma-separated; empty: all)', { value: (k.providers || []).join(', ') }),
    input('rpm', 'requests / min (0: no limit)', { type: 'number', min: 0, value: k.rpm || 0 }),
    input('tpm', 'tokens / min (0: no limit)', { type: 'number', min: 0, value: k.tpm || 0 }),
    select('budget_kind', 'budget in', ['usd', 'tokens'], b.kind || 'usd'),
    input('budget_amount', 'budget (0: none)', { type: 'number', min: 0, step: 'any', value: b.amount || 0 }),
    select('budget_period', 'budget period', ['month', 'day'], b.period || 'month'),
    input('expires_at', 'expires (UTC; empty: never)', { type: 'datetime-local', value: k.expires_at ? k.expires_at.slice(0, 16) : '' }),
    input('labels', 'labels (k=v, comma-separated)', { value: Object.entries(k.labels || {}).map(([a, v]) => `${a}=${v}`).join(', ') }),
    h('button', { type: 'submit', class: 'primary' }, k.id ? 'Save' : 'Create key'),
    err);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    err.hidden = true;
    const f = new FormData(form);
    const body = {
      name: f.get('name').trim(),
      models: splitList(f.get('models')),
      providers: splitList(f.get('providers')),
      rpm: Number(f.get('rpm') || 0),
      tpm: Number(f.get('tpm') || 0),
      labels: {},
    };
    for (const pair of splitList(f.get('labels'))) {
      const i = pair.indexOf('=');
      if (i > 0) body.labels[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
    }
    const amount = Number(f.get('budget_amount') || 0);
    body.budget = amount > 0 ? { kind: f.get('budget_kind'), amount, period: f.get('budget_period') } : null;
    const exp = f.get('expires_at');
    body.expires_at = exp ? new Date(exp + ':00Z').toISOString().replace('.000Z', 'Z') : null;
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      await submit(body);
    } catch (e) {
      err.textContent = errorText(e);
      err.hidden = false;
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

function keyStatus(k) {
  if (k.revoked_at) return 'revoked';
  if (k.expires_at && new Date(k.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

function budgetText(b) {
  if (!b || !b.amount) return '—';
  return (b.kind === 'usd' ? fmtUSD(b.amount) : `${fmtInt(b.amount)} tokens`) + ' / ' + (b.period || 'month');
}

function keyRow(k, reload, msg) {
  const status = keyStatus(k);
  const spent = k.spent || {};
  const actions = h('td', { class: 'actions' });
  const row = h('tr', { 'data-id': k.id, 'data-name': k.name, class: status },
    h('td', {}, k.name, Object.keys(k.labels || {}).length ? h('div', { class: 'hint' }, Object.entries(k.labels).map(([a, v]) => `${a}=${v}`).join(' ')) : null),
    h('td', { class: 'mono' }, k.prefix || ''),
    h('td', {}, list(k.models)), h('td', {}, list(k.providers)),
    h('td', { class: 'num' }, k.rpm ? fmtInt(k.rpm) : '—'), h('td', { class: 'num' }, k.tpm ? fmtInt(k.tpm) : '—'),
    h('td', {}, budgetText(k.budget)),
    h('td', { class: 'num spent' }, `${fmtInt(spent.tokens || 0)} tok · ${fmtUSD(spent.cost_usd)}`),
    h('td', {}, k.expires_at ? fmtTime(k.expires_at) : 'never'),
    h('td', { class: 'status' }, badge(status)),
    actions);
  if (status === 'revoked') return row;
  const act = async (label, fn) => {
    try { await fn(); await reload(); } catch (e) { msg.replaceChildren(h('div', { class: 'notice error' }, `${label} ${k.name}: ${errorText(e)}`)); }
  };
  const edit = h('button', { type: 'button', class: 'edit' }, 'Limits');
  edit.addEventListener('click', () => {
    const next = row.nextElementSibling;
    if (next && next.classList.contains('editor')) { next.remove(); return; }
    const form = keyForm('edit-' + k.id, k, async body => {
      await api('PATCH', '/api/v1/keys/' + encodeURIComponent(k.id), body);
      await reload();
    });
    row.after(h('tr', { class: 'editor' }, h('td', { colspan: 11 }, form)));
  });
  const rotate = h('button', { type: 'button', class: 'rotate' }, 'Rotate');
  rotate.addEventListener('click', () => act('Rotating', async () => {
    const res = await api('POST', `/api/v1/keys/${encodeURIComponent(k.id)}/rotate`, {});
    state.newKey = { name: k.name, key: res.key };
  }));
  const reset = h('button', { type: 'button', class: 'reset' }, 'Reset spend');
  reset.addEventListener('click', () => act('Resetting', () => api('POST', `/api/v1/keys/${encodeURIComponent(k.id)}/reset`, {})));
  actions.append(edit, ' ', rotate, ' ', reset, ' ', armedButton('Revoke', 'revoke', () => act('Revoking', () => api('DELETE', '/api/v1/keys/' + encodeURIComponent(k.id)))));
  return row;
}

// armedButton asks twice: the first click arms it for five seconds, the
// second does it. No modal dialog to get in the way.
function armedButton(label, cls, fn) {
  const b = h('button', { type: 'button', class: 'danger ' + cls }, label);
  let armed = 0;
  b.addEventListener('click', () => {
    if (!armed) {
      b.classList.add('armed');
      b.textContent = `Confirm ${label.toLowerCase()}`;
      armed = setTimeout(() => { armed = 0; b.classList.remove('armed'); b.textContent = label; }, 5000);
      return;
    }
    clearTimeout(armed);
    b.disabled = true;
    fn();
  });
  return b;
}

// ---- usage ----

const RANGES = {
  '1h': { ms: 3600e3, bucket: 'minute' },
  '24h': { ms: 86400e3, bucket: 'hour' },
  '7d': { ms: 7 * 86400e3, bucket: 'hour' },
  '30d': { ms: 30 * 86400e3, bucket: 'day' },
};
const BUCKET_MS = { minute: 60e3, hour: 3600e3, day: 86400e3 };

function usagePage(view) {
  const range = h('select', { id: 'usage-range' }, Object.keys(RANGES).map(r => h('option', { value: r, selected: r === (state.usageRange || '24h') }, 'last ' + r)));
  const group = h('select', { id: 'usage-group' }, ['key', 'model', 'provider'].map(g => h('option', { value: g, selected: g === (state.usageGroup || 'key') }, 'by ' + g)));
  const refresh = h('button', { type: 'button', id: 'usage-refresh' }, 'Refresh');
  const status = h('span', { class: 'hint', id: 'usage-status' });
  const body = h('div', { id: 'usage' });
  view.append(h('h1', {}, 'Usage'), h('div', { class: 'toolbar' }, range, group, refresh, status), body);
  const load = async () => {
    state.usageRange = range.value;
    state.usageGroup = group.value;
    const r = RANGES[range.value];
    const to = new Date(), from = new Date(to - r.ms);
    const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), bucket: r.bucket, group_by: group.value });
    try {
      if (group.value === 'key') await loadKeys().catch(() => {});
      const [res, recs] = await Promise.all([
        api('GET', '/api/v1/usage?' + q),
        api('GET', '/api/v1/usage/records?' + new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), limit: '50' })).catch(() => null),
      ]);
      body.replaceChildren(...usageView(res.rows || [], r.bucket, from, to, group.value), ...recordsView(recs && recs.records));
      status.textContent = `refreshed ${fmtTime(to.toISOString())}`;
    } catch (err) {
      body.replaceChildren(h('p', { class: 'error' }, 'Cannot read usage: ' + errorText(err)));
    }
  };
  range.addEventListener('change', load);
  group.addEventListener('change', load);
  refresh.addEventListener('click', load);
  load();
  every(10000, load);
}

// bucketStarts lists the bucket start times from..to, so the charts show
// empty buckets as gaps on a regular time axis.
function bucketStarts(bucket, from, to) {
  const step = BUCKET_MS[bucket];
  const out = [];
  for (let t = Math.floor(from / step) * step; t <= to; t += step) out.push(new Date(t));
  return out;
}

function usageView(rows, bucket, from, to, groupBy) {
  const times = bucketStarts(bucket, from, to);
  const index = new Map(times.map((t, i) => [t.getTime(), i]));
  const byGroup = new Map();   // group -> totals
  const cells = new Map();     // `${i}|${group}` -> row
  for (const r of rows) {
    const g = r.group || 'all';
    const t = Math.floor(new Date(r.time) / BUCKET_MS[bucket]) * BUCKET_MS[bucket];
    const i = index.get(t);
    if (i !== undefined) cells.set(`${i}|${g}`, r);
    const s = byGroup.get(g) || { requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, reasoning_tokens: 0, cost_usd: 0, latency: 0 };
    for (const k of ['requests', 'errors', 'input_tokens', 'output_tokens', 'cached_tokens', 'reasoning_tokens', 'cost_usd']) s[k] += Number(r[k] || 0);
    s.latency += Number(r.latency_ms_avg || 0) * Number(r.requests || 0);
    byGroup.set(g, s);
  }
  const groups = [...byGroup.keys()].sort((a, b) => byGroup.get(b).requests - byGroup.get(a).requests);
  const label = g => groupBy === 'key' ? (state.keyNames[g] || g) : g;
  const timeLabel = d => bucket === 'day' ? `${d.getUTCMonth() + 1}/${d.getUTCDate()}` : `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  const chart = (id, title, field, format) => Charts.stacked({
    id, title, times, groups, label, timeLabel, format,
    value: (i, g) => { const r = cells.get(`${i}|${g}`); return r ? Number(field(r)) : 0; },
  });
  const charts = h('div', { class: 'charts' },
    chart('chart-requests', `Requests per ${bucket} by ${groupBy}`, r => r.requests, fmtShort),
    chart('chart-tokens', `Tokens (input + output) per ${bucket} by ${groupBy}`, r => (r.input_tokens || 0) + (r.output_tokens || 0), fmtShort),
    chart('chart-cost', `Cost per ${bucket} by ${groupBy} (USD)`, r => r.cost_usd, v => fmtUSD(v)));
  const total = { requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, reasoning_tokens: 0, cost_usd: 0, latency: 0 };
  for (const s of byGroup.values()) for (const k in total) total[k] += s[k];
  const rowOf = (name, s, attrs) => h('tr', attrs,
    h('td', {}, name), h('td', { class: 'num' }, fmtInt(s.requests)), h('td', { class: 'num' }, fmtInt(s.errors)),
    h('td', { class: 'num' }, fmtInt(s.input_tokens)), h('td', { class: 'num' }, fmtInt(s.output_tokens)),
    h('td', { class: 'num' }, fmtInt(s.cached_tokens)), h('td', { class: 'num' }, fmtInt(s.reasoning_tokens)),
    h('td', { class: 'num' }, fmtUSD(s.cost_usd)),
    h('td', { class: 'num' }, s.requests ? Math.round(s.latency / s.requests) + ' ms' : '—'));
  const table = h('table', { id: 'usage-table' },
    h('thead', {}, h('tr', {}, [groupBy, 'requests', 'errors', 'input', 'output', 'cached', 'reasoning', 'cost', 'avg latency'].map((t, i) => h('th', { class: i ? 'num' : '' }, t)))),
    h('tbody', {}, groups.map(g => rowOf(label(g), byGroup.get(g), { 'data-group': g }))),
    h('tfoot', {}, rowOf('total', total, { class: 'total' })));
  return [charts, h('h2', {}, `Totals by ${groupBy}`), table];
}

// recordsView lists the newest usage records (the API's own rows, kept
// after the live log has forgotten them).
function recordsView(records) {
  if (!records) return [];
  const rows = records.map(r => h('tr', {},
    h('td', {}, fmtTime(r.time)), h('td', {}, state.keyNames[r.key_id] || r.key_id || '—'), h('td', {}, r.client || '—'),
    h('td', {}, r.protocol || ''), h('td', {}, r.model || ''), h('td', {}, r.provider || ''), h('td', {}, r.account || ''),
    h('td', {}, badge(String(r.status), r.status >= 500 ? 'bad' : r.status >= 400 ? 'warn' : 'ok')),
    h('td', { class: 'num' }, `${fmtInt(r.input_tokens)} / ${fmtInt(r.output_tokens)}`),
    h('td', { class: 'num' }, fmtUSD(r.cost_usd)), h('td', { class: 'num' }, `${fmtInt(r.latency_ms)} ms`)));
  if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: 11, class: 'empty' }, 'No request in this period.')));
  return [h('h2', {}, 'Latest requests'), h('table', { id: 'usage-records' },
    h('thead', {}, h('tr', {}, ['time', 'key', 'client', 'protocol', 'model', 'provider', 'account', 'status', 'tokens in / out', 'cost', 'latency'].map(t => h('th', {}, t)))),
    h('tbody', {}, rows))];
}

// ---- live log ----

function startEvents() {
  stopEvents();
  const es = new EventSource('/api/v1/events');
  state.es = es;
  const live = $('#live'), word = $('#live-state');
  es.onopen = () => { live.classList.add('on'); word.textContent = 'live'; };
  es.addEventListener('request', ev => {
    let e;
    try { e = JSON.parse(ev.data); } catch (_) { return; }
    state.events.unshift(e);
    if (state.events.length > MAX_EVENTS) state.events.length = MAX_EVENTS;
    $('#log-count').textContent = state.events.length;
    if (state.page === 'log' && !state.logPaused) {
      const tb = $('#log-table tbody');
      if (tb) {
        const empty = tb.querySelector('.empty-row');
        if (empty) empty.remove();
        const tr = logRow(e);
        tr.classList.add('fresh');
        tb.prepend(tr);
        while (tb.children.length > MAX_EVENTS) tb.lastChild.remove();
      }
    }
  });
  es.onerror = () => {
    live.classList.remove('on');
    word.textContent = es.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting';
    if (es.readyState === EventSource.CLOSED) {
      // The browser gives up on an answer that is not a stream (a 401, a
      // restart): try again in a few seconds while signed in.
      clearTimeout(state.esRetry);
      state.esRetry = setTimeout(() => { if (state.es === es && !$('#view').hidden) startEvents(); }, 5000);
    }
  };
}

function stopEvents() {
  clearTimeout(state.esRetry);
  if (state.es) state.es.close();
  state.es = null;
  const live = $('#live');
  if (live) live.classList.remove('on');
}

function logRow(e) {
  const st = Number(e.status);
  const cls = st >= 500 ? 'bad' : st >= 400 ? 'warn' : 'ok';
  return h('tr', { 'data-model': e.model, 'data-key': e.key || '' },
    h('td', {}, fmtTime(e.time)), h('td', {}, e.key || '—'), h('td', {}, e.client || '—'),
    h('td', {}, e.model || ''), h('td', {}, e.provider || ''),
    h('td', {}, badge(String(e.status), cls)),
    h('td', { class: 'num' }, e.latency_ms !== undefined ? e.latency_ms + ' ms' : ''),
    h('td', { class: 'num' }, e.ttft_ms ? e.ttft_ms + ' ms' : '—'),
    h('td', { class: 'num' }, `${fmtInt(e.input_tokens || 0)} / ${fmtInt(e.output_tokens || 0)}`),
    h('td', {}, e.stream ? 'stream' : ''));
}

function logPage(view) {
  const pause = h('button', { type: 'button', id: 'log-pause' }, state.logPaused ? 'Resume' : 'Pause');
  const clear = h('button', { type: 'button', id: 'log-clear' }, 'Clear');
  const tbody = h('tbody');
  const fill = () => {
    tbody.replaceChildren(...state.events.map(logRow));
    if (!state.events.length) tbody.append(h('tr', { class: 'empty-row' }, h('td', { colspan: 10, class: 'empty' }, 'Waiting for requests…')));
  };
  pause.addEventListener('click', () => {
    state.logPaused = !state.logPaused;
    pause.textContent = state.logPaused ? 'Resume' : 'Pause';
    if (!state.logPaused) fill();
  });
  clear.addEventListener('click', () => { state.events = []; $('#log-count').textContent = '0'; fill(); });
  view.append(h('h1', {}, 'Live request log'),
    h('div', { class: 'toolbar' }, pause, clear, h('span', { class: 'hint' }, `Each finished request as it ends (the last ${MAX_EVENTS} kept); no bodies.`)),
    h('table', { id: 'log-table' },
      h('thead', {}, h('tr', {}, ['time', 'key', 'client', 'model', 'provider', 'status', 'latency', 'ttft', 'tokens in / out', ''].map(t => h('th', {}, t)))),
      tbody));
  fill();
}

// ---- configuration ----

function configPage(view) {
  const pre = h('pre', { id: 'config-json' }, 'Loading…');
  const msg = h('div', { id: 'config-message' });
  const reload = h('button', { type: 'button', id: 'config-reload', class: 'primary' }, 'Reload configuration');
  const load = async () => {
    try {
      pre.textContent = JSON.stringify(await api('GET', '/api/v1/config'), null, 2);
    } catch (err) {
      pre.textContent = 'Cannot read the configuration: ' + errorText(err);
    }
  };
  reload.addEventListener('click', async () => {
    reload.disabled = true;
    try {
      await api('POST', '/api/v1/config/reload', {});
      msg.replaceChildren(h('div', { class: 'notice ok' }, `Reloaded at ${fmtTime(new Date().toISOString())}.`));
      await load();
    } catch (err) {
      msg.replaceChildren(h('div', { class: 'notice error' }, 'Not reloaded; the running configuration is kept: ' + errorText(err)));
    } finally {
      reload.disabled = false;
    }
  });
  view.append(h('h1', {}, 'Running configuration'),
    h('div', { class: 'toolbar' }, reload, h('span', { class: 'hint' }, 'Reloads the file, environment and flags, like SIGHUP. Secrets are shown as ***.')),
    msg, pre);
  load();
}

// ---- start ----

async function start() {
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  try {
    const s = await api('GET', '/api/v1/session');
    state.csrf = s.csrf_token || '';
    signedIn();
  } catch (err) {
    signedOut(err.status === 401 ? '' : 'Cannot reach the admin API: ' + errorText(err));
  }
}

start();
