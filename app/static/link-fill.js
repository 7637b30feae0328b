/* The form teacher's class table (app/web/link_fill.py): live sums and cross-field rules as you type, autosave of
   drafts, and drafts that survive a lost connection (kept in localStorage per link and version, sent when the
   connection returns). The page works without this file: the buttons post the whole form. */
(function () {
  "use strict";

  var DEBOUNCE_MS = 800, RETRY_MS = 5000;

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  // --- the formula language of forms/expressions.py, over the JSON trees the page carries ---------------------

  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function num(v) { return typeof v === "boolean" ? (v ? 1 : 0) : (isNum(v) ? v : null); }
  function bounded(v) { return v === null || !isFinite(v) || Math.abs(v) > 1e18 ? null : v; }
  function truth(v) {
    if (v === null || v === undefined) { return null; }
    if (Array.isArray(v) || typeof v === "string") { return v.length > 0; }
    return !!v;
  }
  function roundHalfUp(v, digits) {
    if (!isNum(v)) { return null; }
    digits = Math.max(0, Math.min(digits | 0, 10));
    var f = Math.pow(10, digits);
    var r = Math.sign(v) * Math.round(Math.abs(v) * f + 1e-9) / f;
    return r;
  }
  var FUNCS = {
    min: function (a) { a = a.map(num); return a.some(function (x) { return x === null; }) ? null : Math.min.apply(null, a); },
    max: function (a) { a = a.map(num); return a.some(function (x) { return x === null; }) ? null : Math.max.apply(null, a); },
    abs: function (a) { var x = num(a[0]); return x === null ? null : Math.abs(x); },
    round: function (a) {
      var d = a.length > 1 ? num(a[1]) : 0;
      return d === null || d !== Math.floor(d) ? null : roundHalfUp(num(a[0]), d);
    },
    pct: function (a) { var x = num(a[0]), y = num(a[1]); return x === null || y === null || y === 0 ? null : bounded(100 * x / y); },
    coalesce: function (a) { for (var i = 0; i < a.length; i++) { if (a[i] !== null && a[i] !== undefined) { return a[i]; } } return null; },
    present: function (a) { var x = a[0]; return x !== null && x !== undefined && x !== "" && !(Array.isArray(x) && !x.length); }
  };

  function compare(op, a, b) {
    if (op === "In" || op === "NotIn") {
      if (a === null || b === null || !Array.isArray(b)) { return null; }
      var r = b.indexOf(a) >= 0;
      return op === "In" ? r : !r;
    }
    if (a === null || a === undefined || b === null || b === undefined) { return null; }
    if (op === "Eq" || op === "NotEq") {
      var eq = num(a) !== null && num(b) !== null ? num(a) === num(b) : a === b;
      return op === "Eq" ? eq : !eq;
    }
    a = num(a); b = num(b);
    if (a === null || b === null) { return null; }
    return op === "Lt" ? a < b : op === "LtE" ? a <= b : op === "Gt" ? a > b : a >= b;
  }

  function evaluate(t, env) {
    switch (t[0]) {
      case "c": return t[1];
      case "n": return env.hasOwnProperty(t[1]) ? env[t[1]] : null;
      case "sum": {
        var total = null;
        Object.keys(env).forEach(function (k) {
          if (k.indexOf(t[1]) === 0 && num(env[k]) !== null) { total = (total || 0) + num(env[k]); }
        });
        return bounded(total);
      }
      case "f": return FUNCS[t[1]](t[2].map(function (a) { return evaluate(a, env); }));
      case "u": {
        var u = evaluate(t[2], env);
        if (t[1] === "Not") { var tu = truth(u); return tu === null ? null : !tu; }
        u = num(u);
        return u === null ? null : (t[1] === "USub" ? -u : u);
      }
      case "b": {
        var a = num(evaluate(t[2], env)), b = num(evaluate(t[3], env));
        if (a === null || b === null) { return null; }
        if (t[1] === "Add") { return bounded(a + b); }
        if (t[1] === "Sub") { return bounded(a - b); }
        if (t[1] === "Mult") { return bounded(a * b); }
        if (b === 0) { return null; }
        if (t[1] === "Div") { return bounded(a / b); }
        if (t[1] === "FloorDiv") { return bounded(Math.floor(a / b)); }
        return bounded(((a % b) + b) % b);
      }
      case "and": case "or": {
        var isAnd = t[0] === "and", unknown = false;
        for (var i = 0; i < t[1].length; i++) {
          var v = truth(evaluate(t[1][i], env));
          if (v === null) { unknown = true; } else if (v !== isAnd) { return v; }
        }
        return unknown ? null : isAnd;
      }
      case "cmp": {
        var left = evaluate(t[1], env);
        for (var j = 0; j < t[2].length; j++) {
          var right = evaluate(t[2][j][1], env), r = compare(t[2][j][0], left, right);
          if (r !== true) { return r; }
          left = right;
        }
        return true;
      }
      case "if": {
        var c = truth(evaluate(t[1], env));
        return c === null ? null : evaluate(c ? t[2] : t[3], env);
      }
    }
    return null;
  }

  function shown(v) {
    if (v === null || v === undefined || v === "") { return "—"; }
    if (typeof v === "number" && Math.floor(v) !== v) { return v.toFixed(2).replace(/0+$/, "").replace(/\.$/, ""); }
    return String(v);
  }

  function parse(type, raw) {
    raw = (raw || "").trim();
    if (raw === "") { return null; }
    if (type === "integer") { return /^-?\d+$/.test(raw) ? parseInt(raw, 10) : NaN; }
    if (type === "decimal") { var d = raw.replace(",", "."); return /^-?\d+(\.\d+)?$/.test(d) ? parseFloat(d) : NaN; }
    if (type === "yesno") { return raw === "yes" ? true : raw === "no" ? false : null; }
    return raw;
  }

  // --- the page ----------------------------------------------------------------------------------------------

  ready(function () {
    var done = document.getElementById("submitted");
    var store = storage();
    if (done) {  // submitted: nothing of this link is left to send
      var prefix = done.getAttribute("data-draft-key");
      if (store && prefix) {
        for (var i = store.length - 1; i >= 0; i--) {
          var k = store.key(i);
          if (k && k.indexOf(prefix) === 0) { store.removeItem(k); }
        }
      }
      return;
    }
    var form = document.getElementById("link-form");
    if (!form) { return; }
    var status = document.getElementById("save-status");
    var versionInput = document.getElementById("values-version");
    var csrfInput = form.querySelector("input[name=csrf_token]");
    var key = form.getAttribute("data-draft-key");
    var url = form.getAttribute("data-draft-url");
    var logic = {};
    try { logic = JSON.parse(form.getAttribute("data-logic") || "{}") || {}; } catch (e) { logic = {}; }
    var inputs = Array.prototype.slice.call(form.querySelectorAll("[data-key]:not(output)"));
    var byKey = {};
    inputs.forEach(function (el) { byKey[el.getAttribute("data-key")] = el; });

    var pending = {};      // key → text typed and not yet saved
    var saved = {};        // key → text the server holds
    inputs.forEach(function (el) { saved[el.getAttribute("data-key")] = el.value; });
    var timer = null, inflight = null, submitting = false;

    function say(state, text) {
      status.setAttribute("data-state", state);
      status.textContent = text || status.getAttribute("data-" + state) || "";
    }

    function keep() {
      if (!store) { return; }
      if (Object.keys(pending).length) {
        store.setItem(key, JSON.stringify({ version: parseInt(versionInput.value, 10), values: pending, at: Date.now() }));
      } else {
        store.removeItem(key);
      }
    }

    function fieldErrors(errors) {
      Array.prototype.forEach.call(form.querySelectorAll(".field-error[data-for]"), function (el) {
        var msgs = errors[el.getAttribute("data-for")] || [];
        el.textContent = msgs.join(" ");
        var input = byKey[el.getAttribute("data-for")];
        if (input) { if (msgs.length) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); } }
      });
    }

    function showRules(list) {
      var box = document.getElementById("live-rules"), ul = document.getElementById("live-rules-list");
      if (!box || !ul) { return; }
      ul.textContent = "";
      list.forEach(function (m) { var li = document.createElement("li"); li.textContent = m; ul.appendChild(li); });
      box.hidden = list.length === 0;
    }

    // Live sums, shares and the cross-field rules from what is typed now (the server checks again on save).
    function recompute() {
      if (!logic.inputs) { return; }
      var env = {}, errors = {}, messages = [];
      Object.keys(logic.context || {}).forEach(function (k) { env[k] = logic.context[k]; });
      Object.keys(logic.inputs).forEach(function (k) {
        var el = byKey[k];
        var v = el ? parse(logic.inputs[k], el.value) : null;
        env[k] = typeof v === "number" && isNaN(v) ? null : v;
      });
      (logic.computed || []).forEach(function (c) {
        var v = evaluate(c[1], env);
        if (typeof v === "number" && c[2] !== null && c[2] !== undefined && Math.floor(v) !== v) { v = roundHalfUp(v, c[2]); }
        env[c[0]] = v;
        var out = form.querySelector("output[data-key='" + c[0] + "']");
        if (out) { out.textContent = shown(v); }
      });
      (logic.rules || []).forEach(function (r) {
        if (r.when && truth(evaluate(r.when, env)) !== true) { return; }
        if (truth(evaluate(r.expr, env)) !== false) { return; }
        var text = r.text.replace(/\{(\w+)\}/g, function (m, name) {
          return r.values[name] ? shown(evaluate(r.values[name], env)) : m;
        });
        messages.push(text);
        r.fields.forEach(function (f) { (errors[f] = errors[f] || []).push(text); });
      });
      fieldErrors(errors);
      showRules(messages);
    }

    function showConflict(err) {
      var box = document.getElementById("live-conflict"), rows = document.getElementById("conflict-rows");
      if (!box || !rows) { return; }
      rows.textContent = "";
      (err.changed || []).forEach(function (c) {
        // A field only they changed takes their value; one the teacher changed too keeps the teacher's.
        if (byKey[c.key] && !pending.hasOwnProperty(c.key)) { byKey[c.key].value = c.value; saved[c.key] = c.value; }
        var tr = document.createElement("tr");
        [c.label, c.now, c.yours === undefined || c.yours === null ? "—" : c.yours].forEach(function (t) {
          var td = document.createElement("td"); td.textContent = t; tr.appendChild(td);
        });
        rows.appendChild(tr);
      });
      box.hidden = false;
    }

    function send() {
      timer = null;
      if (inflight || !Object.keys(pending).length) { return; }
      if (navigator.onLine === false) { say("offline"); timer = setTimeout(send, RETRY_MS); return; }
      var sent = {};
      Object.keys(pending).forEach(function (k) { sent[k] = pending[k]; });
      say("saving");
      inflight = fetch(url, {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfInput.value },
        body: JSON.stringify({ version: parseInt(versionInput.value, 10), values: sent })
      }).then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; },
          function () { return { status: response.status, body: {} }; });
      }).then(function (r) {
        inflight = null;
        var err = (r.body && r.body.error) || {};
        if (r.status === 200 && r.body.ok) {
          versionInput.value = r.body.version;
          if (r.body.csrf_token) { csrfInput.value = r.body.csrf_token; }
          Object.keys(sent).forEach(function (k) {
            saved[k] = sent[k];
            if (pending[k] === sent[k]) { delete pending[k]; }
          });
          keep();
          Object.keys(r.body.computed || {}).forEach(function (k) {
            var out = form.querySelector("output[data-key='" + k + "']");
            if (out) { out.textContent = r.body.computed[k]; }
          });
          recompute();
          say("saved");
          status.setAttribute("data-version", r.body.version);
          if (Object.keys(pending).length) { schedule(); }
        } else if (r.status === 409 && err.code === "stale_version") {
          versionInput.value = err.version;  // the teacher's values stay in the form and are sent again on the next change
          showConflict(err);
          keep();
          recompute();
          say("conflict");
        } else if (r.status === 422) {
          fieldErrors(err.fields || {});
          say("invalid");
        } else if (err.code === "link_refused") {
          say("refused", (err.title || "") + ". " + (err.message || ""));
        } else {
          say("error");
        }
      }, function () {  // no connection: the values stay on this phone until it returns (or a retry gets through)
        inflight = null;
        say("offline");
        if (timer) { clearTimeout(timer); }
        timer = setTimeout(send, RETRY_MS);
      });
    }

    function schedule() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(send, DEBOUNCE_MS);
    }

    function changed(e) {
      var el = e.target, k = el.getAttribute && el.getAttribute("data-key");
      if (!k || !byKey[k]) { return; }
      if (el.value === saved[k]) { delete pending[k]; } else { pending[k] = el.value; }
      keep();
      recompute();
      if (navigator.onLine === false) { say("offline"); return; }
      schedule();
    }

    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    window.addEventListener("offline", function () { say("offline"); });
    window.addEventListener("online", function () { if (Object.keys(pending).length) { send(); } });

    form.addEventListener("submit", function (e) {
      if (submitting) { return; }
      if (navigator.onLine === false) { e.preventDefault(); say("offline"); return; }
      if (inflight) { e.preventDefault(); say("wait"); return; }
      if (timer) { clearTimeout(timer); timer = null; }
      submitting = true;  // the post carries every value; what is kept here goes once the server has it
    });

    // Unsent changes kept on this phone (the connection was lost, or the page was closed): back into the form.
    var kept = null;
    try { kept = store && JSON.parse(store.getItem(key) || "null"); } catch (err) { kept = null; }
    if (kept && kept.values) {
      Object.keys(kept.values).forEach(function (k) {  // what the server already holds needs no resending
        if (byKey[k] && byKey[k].value !== kept.values[k]) { byKey[k].value = kept.values[k]; pending[k] = kept.values[k]; }
      });
      if (Object.keys(pending).length) {
        if (kept.version !== undefined && kept.version !== null) { versionInput.value = kept.version; }
        say("restored");
        if (navigator.onLine !== false) { schedule(); } else { say("offline"); }
      }
      keep();
    }
    recompute();
  });
})();
