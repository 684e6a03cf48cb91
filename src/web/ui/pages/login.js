// Log-in with an API token.  The token is checked against kanrid before it
// is kept (sessionStorage: gone with the browser session).

import { h } from '../dom.js';
import { login } from '../api.js';

export function loginPage({ reason, onLogin }) {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const msg = h('p', { class: 'error-text', role: 'alert' }, reason || '');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', {
    class: 'login',
    onsubmit: async (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) { msg.textContent = 'Enter an API token.'; return; }
      button.disabled = true;
      msg.textContent = '';
      try {
        await login(token);
        onLogin();
      } catch (err) {
        msg.textContent = err.status === 401
          ? 'kanrid does not accept this token: it is unknown or was revoked.'
          : err.status === 403 ? 'This token may not use the dashboard (a guest agent token?).'
          : err.message;
        button.disabled = false;
        input.focus();
      }
    },
  },
  h('h1', null, 'kanri'),
  h('p', null, 'Log in with an API token. kanrid wrote an admin token to ', h('code', null, 'STATE_DIR/admin.token'),
    ' when it first started; ', h('code', null, 'kanri token create NAME --role viewer'), ' makes others.'),
  h('label', { for: 'token' }, 'API token'), input, msg, button,
  h('p', { class: 'muted' }, 'The token is kept in this browser tab\u2019s session only.'));
  setTimeout(() => input.focus(), 0);
  return h('main', { id: 'main', class: 'login-page' }, form);
}
