/*
 * Passkey and security-key buttons. The server keeps every challenge (src/mfa/webauthn.ts); this
 * script only carries options from the server to the authenticator and the answer back.
 *
 * Markup (no inline script; load this file with <script src="/static/webauthn.js" nonce="…" defer>):
 *   <button type="button" data-webauthn="register"            register | authenticate
 *           data-options-url="/…/webauthn/options"            POST → { options, handle? }
 *           data-finish-url="/…/webauthn/finish"              POST { handle?, response, name? } → { redirect? }
 *           data-csrf="<%= csrfToken %>"                      sent as the x-csrf-token header
 *           data-status="webauthn-status"                     optional: id of the live region below
 *           data-name-input="key-name"                        optional, register only: id of an <input>; its value is sent as "name"
 *           data-msg-unsupported="…" data-msg-cancelled="…"   optional messages (defaults are English;
 *           data-msg-exists="…" data-msg-failed="…"           pass the catalogue's text for other locales)
 *           data-msg-working="…">Use a passkey</button>
 *   <p id="webauthn-status" role="status" aria-live="polite"></p>
 *
 * Protocol: both POSTs send and accept JSON, with credentials same-origin. The options answer is
 * { options, handle } (handle may be omitted if the server keeps it in the interaction); the
 * finish request echoes the handle. A 2xx answer { redirect } is followed when it is same-origin
 * (a bare 2xx reloads the page); any other answer shows its { error_description } in the status region.
 * The SimpleWebAuthn browser bundle (/static/vendor/simplewebauthn-browser.js, global
 * SimpleWebAuthnBrowser) is loaded once at start-up, not on click, so the browser's
 * user-activation window isn't spent downloading it. A page may also include it itself first.
 */
(function webauthnButtons() {
  'use strict';

  var bundleUrl = '/static/vendor/simplewebauthn-browser.js';
  var defaults = {
    unsupported: 'This browser cannot use passkeys or security keys.',
    cancelled: 'The request was cancelled or timed out. Try again when you are ready.',
    exists: 'This passkey or security key is already registered.',
    failed: 'Something went wrong. Try again.',
    working: 'Follow the instructions from your browser…',
  };
  var library = null;

  function loadLibrary() {
    if (!library) {
      library = window.SimpleWebAuthnBrowser ? Promise.resolve(window.SimpleWebAuthnBrowser) : new Promise(function (resolve, reject) {
        var script = document.createElement('script');
        script.src = bundleUrl; // same origin: allowed by script-src 'self', no nonce needed
        script.onload = function () { resolve(window.SimpleWebAuthnBrowser); };
        script.onerror = function () { library = null; reject(new Error('bundle failed to load')); };
        document.head.appendChild(script);
      });
    }
    return library;
  }

  function message(button, name) {
    return button.getAttribute('data-msg-' + name) || defaults[name];
  }

  function statusRegion(button) {
    var id = button.getAttribute('data-status');
    var region = id && document.getElementById(id);
    if (!region) {
      region = document.createElement('p');
      region.setAttribute('role', 'status');
      region.setAttribute('aria-live', 'polite');
      region.id = id || 'webauthn-status-' + Math.random().toString(36).slice(2);
      button.setAttribute('data-status', region.id);
      button.insertAdjacentElement('afterend', region);
    }
    return region;
  }

  function show(button, text, isError) {
    var region = statusRegion(button);
    region.textContent = text;
    region.classList.toggle('error', Boolean(isError));
  }

  /** POSTs JSON; resolves with the parsed answer, rejects with the server's error_description. */
  function postJson(url, csrf, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        // A stale sign-in (account/recent-auth.ts): go sign in again; the sign-in comes back to this page.
        if (response.status === 401 && data.error === 'reauthentication_required' && data.redirect) {
          follow(data.redirect);
          return new Promise(function () {}); // the page is leaving: nothing more to do here
        }
        if (!response.ok) throw Object.assign(new Error(data.error_description || ''), { fromServer: true });
        return data;
      });
    });
  }

  /** Follows a same-origin redirect only: the answer must never send the person elsewhere. */
  function follow(redirect) {
    if (!redirect) return window.location.reload();
    var target = new URL(redirect, window.location.href);
    if (target.origin !== window.location.origin) throw new Error('cross-origin redirect refused');
    window.location.assign(target.href);
  }

  function describe(button, error) {
    if (error && error.fromServer) return error.message || message(button, 'failed');
    if (error && error.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED') return message(button, 'exists');
    if (error && (error.name === 'NotAllowedError' || error.name === 'AbortError')) return message(button, 'cancelled');
    return message(button, 'failed');
  }

  function run(button) {
    var mode = button.getAttribute('data-webauthn');
    var csrf = button.getAttribute('data-csrf') || '';
    var nameInput = document.getElementById(button.getAttribute('data-name-input') || '');
    var handle;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    show(button, message(button, 'working'), false);
    return loadLibrary().then(function (lib) {
      return postJson(button.getAttribute('data-options-url'), csrf, {}).then(function (answer) {
        handle = answer.handle;
        return mode === 'register'
          ? lib.startRegistration({ optionsJSON: answer.options })
          : lib.startAuthentication({ optionsJSON: answer.options });
      });
    }).then(function (response) {
      var body = { handle: handle, response: response };
      if (mode === 'register' && nameInput) body.name = nameInput.value;
      return postJson(button.getAttribute('data-finish-url'), csrf, body);
    }).then(function (answer) {
      follow(answer.redirect);
    }).catch(function (error) {
      show(button, describe(button, error), true);
      button.disabled = false;
      button.removeAttribute('aria-busy');
    });
  }

  function init() {
    var buttons = document.querySelectorAll('[data-webauthn="register"], [data-webauthn="authenticate"]');
    if (!buttons.length) return;
    var supported = typeof window.PublicKeyCredential === 'function' && window.navigator.credentials;
    Array.prototype.forEach.call(buttons, function (button) {
      if (!supported) {
        button.disabled = true;
        show(button, message(button, 'unsupported'), true);
        return;
      }
      button.addEventListener('click', function (event) {
        event.preventDefault();
        if (!button.disabled) run(button);
      });
    });
    if (supported) loadLibrary().catch(function () { /* retried on click */ });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
