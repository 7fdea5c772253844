/*
 * Live password-strength meter. Advisory only: the server's verdict (src/accounts/password-policy.ts)
 * is the one that counts; this script never blocks submission, paste or password managers.
 *
 * Markup (no inline script; load this file with <script src="/static/password-meter.js" nonce="…" defer>):
 *   <input type="password" name="password" autocomplete="new-password"
 *          data-password-meter="pw-strength" data-user-inputs="#email,#name">
 *   <div id="pw-strength" data-min-length="15" data-max-length="256" data-min-score="3"
 *        data-labels="Very weak|Weak|Fair|Strong|Very strong"
 *        data-too-short="Use at least {min} characters" data-too-long="Use at most {max} characters">
 *     <meter min="0" max="4" low="2" high="3" optimum="4" value="0"></meter>
 *     <output aria-live="polite"></output>
 *   </div>
 *
 * Scoring uses zxcvbn-ts with the same dictionaries and limits as the server, loaded lazily from
 * /static/vendor/ on first focus (about 1.7 MB, cached). Until it has loaded, or if it can't load,
 * a rough length-and-variety estimate stands in. Lengths count code points after NFKC, like the server.
 */
(function passwordMeter() {
  'use strict';

  var vendor = '/static/vendor/';
  var bundles = ['zxcvbn-core.js', 'zxcvbn-language-common.js', 'zxcvbn-language-en.js'];
  // Mirrors zxcvbnLimits in src/accounts/password-policy.ts.
  var limits = { maxLength: 128, l33tMaxSubstitutions: 10 };
  var scorer = null;
  var loading = null;

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement('script');
      script.src = src; // same origin: allowed by script-src 'self', no nonce needed
      script.async = false;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function loadScorer() {
    if (!loading) {
      loading = Promise.all(bundles.map(function (name) { return loadScript(vendor + name); })).then(function () {
        var z = window.zxcvbnts;
        var common = z['language-common'];
        var en = z['language-en'];
        scorer = new z.core.ZxcvbnFactory(Object.assign({
          dictionary: Object.assign({}, common.dictionary, en.dictionary),
          graphs: common.adjacencyGraphs,
          translations: en.translations,
        }, limits));
      }).catch(function () { loading = null; });
    }
    return loading;
  }

  function codePoints(value) {
    return Array.from(value).length;
  }

  /** Stand-in score 0–4 from length and character variety, for before zxcvbn has loaded. */
  function roughScore(value) {
    var pool = 0;
    if (/[a-z]/.test(value)) pool += 26;
    if (/[A-Z]/.test(value)) pool += 26;
    if (/[0-9]/.test(value)) pool += 10;
    if (/[^a-zA-Z0-9]/.test(value)) pool += 33;
    var bits = codePoints(value) * Math.log2(Math.max(pool, 2));
    return bits < 28 ? 0 : bits < 40 ? 1 : bits < 60 ? 2 : bits < 80 ? 3 : 4;
  }

  function userInputs(input) {
    var selectors = (input.getAttribute('data-user-inputs') || '').split(',');
    var words = [];
    selectors.forEach(function (selector) {
      var field = selector.trim() && document.querySelector(selector.trim());
      if (field && field.value) words.push(field.value, field.value.split('@')[0]);
    });
    return words;
  }

  function format(template, params) {
    return (template || '').replace(/\{(\w+)\}/g, function (_, key) { return String(params[key]); });
  }

  function attach(input) {
    var box = document.getElementById(input.getAttribute('data-password-meter'));
    if (!box) return;
    var meter = box.tagName === 'METER' ? box : box.querySelector('meter');
    var output = box.querySelector('output');
    if (output && !output.hasAttribute('aria-live')) output.setAttribute('aria-live', 'polite');
    var labels = (box.getAttribute('data-labels') || '0|1|2|3|4').split('|');
    var minLength = Number(box.getAttribute('data-min-length') || 15);
    var maxLength = Number(box.getAttribute('data-max-length') || 256);
    var timer = null;

    function update() {
      var value = input.value.normalize('NFKC');
      var length = codePoints(value);
      var score = value ? (scorer ? scorer.check(value, userInputs(input)).score : roughScore(value)) : 0;
      // A password the server will refuse on length never shows as strong.
      if (meter) meter.value = length < minLength || length > maxLength ? Math.min(score, 1) : score;
      if (!output) return;
      if (!value) output.textContent = '';
      else if (length < minLength) output.textContent = format(box.getAttribute('data-too-short'), { min: minLength });
      else if (length > maxLength) output.textContent = format(box.getAttribute('data-too-long'), { max: maxLength });
      else output.textContent = labels[score] || '';
    }

    function schedule() {
      // Debounced: zxcvbn can take tens of milliseconds on long inputs; don't do it per keystroke.
      clearTimeout(timer);
      timer = setTimeout(update, 150);
    }

    function wake() { loadScorer().then(schedule); }
    // Focus for typists, input for password managers that fill without focusing.
    input.addEventListener('focus', wake, { once: true });
    input.addEventListener('input', function () { wake(); schedule(); });
    if (input.value) wake();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll('input[data-password-meter]'), attach);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
