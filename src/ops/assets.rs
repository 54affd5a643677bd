//! The page's style and script, inline in every page: nothing to fetch.

pub(super) const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: 10px 20px; display: flex; justify-content: space-between; align-items: center; }
header h1 { font-size: 18px; margin: 0; }
header form { margin: 0; }
nav a { color: #fff; margin-right: 14px; text-decoration: none; font-size: 14px; }
main { padding: 10px 20px 40px; max-width: 1200px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 16px; margin: 14px 0; }
h2 { font-size: 16px; margin: 6px 0 10px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.state-dead { color: #d1242f; font-weight: 600; }
.state-delivered { color: #1a7f37; }
.state-retrying, .state-pending, .state-in\ flight { color: #9a6700; }
.error { color: #d1242f; font-family: monospace; font-size: 12px; white-space: pre-wrap; word-break: break-word; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
textarea { width: 100%; min-height: 90px; font-family: monospace; font-size: 12px; }
button, input[type=submit] { font-size: 13px; padding: 2px 10px; cursor: pointer; }
.muted { color: #656d76; font-size: 12px; }
.signin { max-width: 360px; margin: 80px auto; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 20px; }
.signin input[type=password] { width: 100%; margin: 8px 0; padding: 6px; box-sizing: border-box; }
"#;

/// Retry and Replay call the admin API (the session cookie signs them),
/// then show the row's new state; "reveal" fetches one lead's contacts.
pub(super) const SCRIPT: &str = r#"
async function call(url, body) {
  const response = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'},
                                     body: JSON.stringify(body), credentials: 'same-origin'});
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || ('HTTP ' + response.status));
  return answer;
}
async function stateOf(row) {
  const url = '/admin/deliveries?lead_id=' + row.dataset.lead + '&target=' + encodeURIComponent(row.dataset.target) + '&limit=1000';
  const response = await fetch(url, {credentials: 'same-origin'});
  const answer = await response.json();
  const found = (answer.deliveries || []).find(d => String(d.id) === row.dataset.id);
  if (!found) return 'gone';
  if (found.state === 'pending' && found.in_flight) return 'in flight';
  if (found.state === 'pending' && found.attempts > 0) return 'retrying';
  return found.state;
}
async function follow(row) {
  const cell = row.querySelector('.state');
  for (let i = 0; i < 60; i++) {
    const state = await stateOf(row);
    cell.textContent = state;
    cell.className = 'state state-' + state;
    if (state === 'delivered' || state === 'dead' && i > 2) return;
    await new Promise(resolve => setTimeout(resolve, 500));
  }
}
document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const row = button.closest('tr');
  const note = row.querySelector('.note');
  button.disabled = true;
  try {
    if (button.dataset.action === 'retry') {
      await call('/admin/deliveries/retry', {ids: [Number(row.dataset.id)]});
      note.textContent = 'queued again';
      await follow(row);
    } else if (button.dataset.action === 'replay') {
      const answer = await call('/admin/deliveries/replay', JSON.parse(button.dataset.window));
      note.textContent = 'replayed (' + answer.queued + ')';
      await follow(row);
    } else if (button.dataset.action === 'reveal') {
      const response = await fetch('/ops/api/leads/' + row.dataset.lead + '/contacts', {credentials: 'same-origin'});
      const contacts = await response.json();
      row.querySelector('.contacts').textContent = contacts.phones.concat(contacts.emails).join(', ');
      button.remove();
      return;
    }
  } catch (error) {
    note.textContent = error.message;
  }
  button.disabled = false;
});
"#;
