// The API docs page: fetches openapi.json and renders its operations by
// tag, with parameters, schemas, examples and a "Try it" form. The
// document's text comes from plugins' manifests, so everything is written
// with textContent and DOM nodes, never as HTML; the page runs under a
// CSP without inline script.
"use strict";
(function () {
  var spec = null;

  // el makes an element: props are attributes (class, href, ...), kids
  // are nodes or strings (text).
  function el(tag, props) {
    var e = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (props[k] !== undefined && props[k] !== null && props[k] !== false) e.setAttribute(k, props[k]);
    });
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(parent, kid) {
    if (kid === undefined || kid === null || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { add(parent, k); }); return; }
    parent.appendChild(typeof kid === "string" || typeof kid === "number" ? document.createTextNode(String(kid)) : kid);
  }

  // inline writes text with `code` spans.
  function inline(text) {
    var out = [];
    String(text).split("`").forEach(function (part, i) {
      if (part === "") return;
      out.push(i % 2 ? el("code", null, part) : part);
    });
    return out;
  }

  // prose writes text as paragraphs and "- " lists.
  function prose(text) {
    var box = el("div", { class: "prose" });
    if (!text) return box;
    String(text).split(/\n\s*\n/).forEach(function (block) {
      var lines = block.split("\n").filter(function (l) { return l.trim() !== ""; });
      if (!lines.length) return;
      if (lines.every(function (l) { return /^\s*- /.test(l); })) {
        box.appendChild(el("ul", null, lines.map(function (l) { return el("li", null, inline(l.replace(/^\s*- /, ""))); })));
      } else {
        box.appendChild(el("p", null, inline(block)));
      }
    });
    return box;
  }

  // resolve follows a local $ref.
  function resolve(obj) {
    for (var n = 0; obj && obj.$ref && n < 16; n++) {
      var target = spec;
      obj.$ref.replace(/^#\//, "").split("/").forEach(function (k) {
        target = target && target[k.replace(/~1/g, "/").replace(/~0/g, "~")];
      });
      obj = target;
    }
    return obj || {};
  }
  function refName(obj) { return obj && obj.$ref ? obj.$ref.split("/").pop() : ""; }

  // flat merges a schema's $ref and allOf into one view of its keywords.
  function flat(schema, depth) {
    depth = depth || 0;
    var s = resolve(schema);
    var out = { name: refName(schema) };
    (s.allOf || []).forEach(function (part) {
      if (depth > 8) return;
      merge(out, flat(part, depth + 1));
    });
    var own = {};
    Object.keys(s).forEach(function (k) { if (k !== "allOf" && k !== "$ref") own[k] = s[k]; });
    merge(out, own);
    return out;
  }
  function merge(into, s) {
    Object.keys(s).forEach(function (k) {
      if (k === "name") { into.name = into.name || s.name; return; }
      if (k === "properties") {
        into.properties = Object.assign({}, into.properties || {});
        Object.keys(s.properties).forEach(function (p) {
          into.properties[p] = into.properties[p] ? { allOf: [into.properties[p], s.properties[p]] } : s.properties[p];
        });
        return;
      }
      if (k === "required") { into.required = (into.required || []).concat(s.required); return; }
      if (k === "items" && into.items) { into.items = { allOf: [into.items, s.items] }; return; }
      into[k] = s[k];
    });
  }

  function typeLabel(s) {
    if (s.enum) return "enum";
    if (s.anyOf) return s.anyOf.map(function (x) { return refName(x) || typeLabel(flat(x)); }).join(" or ");
    var t = s.type || (s.properties ? "object" : "any");
    if (t === "array") return "array of " + (s.items ? (refName(s.items) || typeLabel(flat(s.items))) : "any");
    if (s.format) t += " (" + s.format + ")";
    return t;
  }

  function constraints(s) {
    var c = [];
    if (s.enum) c.push("one of: " + s.enum.join(", "));
    if (s.minLength !== undefined) c.push("at least " + s.minLength + " characters");
    if (s.maxLength !== undefined) c.push("at most " + s.maxLength + " characters");
    if (s.minimum !== undefined) c.push("≥ " + s.minimum);
    if (s.maximum !== undefined) c.push("≤ " + s.maximum);
    if (s.minItems !== undefined) c.push("at least " + s.minItems + " items");
    if (s.maxItems !== undefined) c.push("at most " + s.maxItems + " items");
    if (s.pattern) c.push("matching " + s.pattern);
    if (s.default !== undefined) c.push("default " + JSON.stringify(s.default));
    if (s.additionalProperties === false) c.push("no other properties");
    return c.join("; ");
  }

  // schemaTree renders a schema: its type and constraints, and its
  // properties (objects) or items' properties (arrays), nested.
  function schemaTree(schema, depth) {
    var s = flat(schema);
    var box = el("div", { class: "schema-box" });
    var head = el("div", null, el("span", { class: "type" }, typeLabel(s)));
    if (s.name) head.appendChild(el("span", { class: "refname" }, " " + s.name));
    var c = constraints(s);
    if (c) head.appendChild(el("span", { class: "constraint" }, " — " + c));
    box.appendChild(head);
    if (s.description) box.appendChild(prose(s.description));
    var obj = s;
    if (s.type === "array" && s.items) obj = flat(s.items);
    if (obj.properties && depth < 6) box.appendChild(properties(obj, depth));
    return box;
  }

  function properties(s, depth) {
    var req = s.required || [];
    var list = el("ul", { class: "schema" });
    Object.keys(s.properties).sort().forEach(function (name) {
      var p = flat(s.properties[name]);
      var item = el("li", null,
        el("code", null, name), req.indexOf(name) >= 0 ? el("span", { class: "req" }, "required") : null, " ",
        el("span", { class: "type" }, typeLabel(p)));
      var c = constraints(p);
      if (c) item.appendChild(el("span", { class: "constraint" }, " — " + c));
      if (p.description) item.appendChild(el("div", { class: "muted" }, inline(p.description)));
      var inner = p.type === "array" && p.items ? flat(p.items) : p;
      if (inner.properties && depth < 6) {
        item.appendChild(el("details", null, el("summary", null, "properties"), properties(inner, depth + 1)));
      }
      list.appendChild(item);
    });
    return list;
  }

  function examples(media, open) {
    var ex = media.examples || {};
    var names = Object.keys(ex);
    if (!names.length) return null;
    var box = el("div", { class: "examples" });
    names.forEach(function (n) {
      var e = resolve(ex[n]);
      var text = typeof e.value === "string" ? e.value : JSON.stringify(e.value, null, 2);
      box.appendChild(el("details", { open: open ? "" : false },
        el("summary", { class: "label" }, "Example: " + (e.summary || n)),
        el("pre", null, el("code", null, text))));
    });
    return box;
  }

  function parameters(op) {
    var params = (op.parameters || []).map(resolve);
    if (!params.length) return null;
    return [el("h4", null, "Parameters"), el("table", null,
      el("thead", null, el("tr", null, el("th", null, "Name"), el("th", null, "In"), el("th", null, "Type"), el("th", null, "Description"))),
      el("tbody", null, params.map(function (p) {
        var s = flat(p.schema || {});
        var c = constraints(s);
        return el("tr", null,
          el("td", null, el("code", null, p.name), p.required ? el("span", { class: "req" }, "required") : null),
          el("td", null, p.in),
          el("td", null, el("span", { class: "type" }, typeLabel(s)), c ? el("div", { class: "constraint" }, c) : null),
          el("td", null, prose(p.description)));
      })))];
  }

  function requestBody(op) {
    if (!op.requestBody) return null;
    var rb = resolve(op.requestBody);
    var out = [el("h4", null, "Request body")];
    if (rb.description) out.push(prose(rb.description));
    Object.keys(rb.content || {}).forEach(function (ct) {
      var media = rb.content[ct];
      out.push(el("div", { class: "muted" }, el("code", null, ct)), schemaTree(media.schema || {}, 0), examples(media, true));
    });
    return out;
  }

  function responses(op) {
    var out = [el("h4", null, "Responses")];
    Object.keys(op.responses || {}).sort().forEach(function (code) {
      var r = resolve(op.responses[code]);
      var ok = code.charAt(0) === "2";
      var body = el("div", { class: "response" });
      var head = el("span", null, el("span", { class: "status s" + code.charAt(0) }, code), " ", inline(r.description || ""));
      var detail = [];
      Object.keys(r.headers || {}).forEach(function (h) {
        var hd = resolve(r.headers[h]);
        detail.push(el("div", { class: "muted" }, "Header ", el("code", null, h), ": ", inline(hd.description || "")));
      });
      Object.keys(r.content || {}).forEach(function (ct) {
        var media = r.content[ct];
        detail.push(el("div", { class: "muted" }, el("code", null, ct)), schemaTree(media.schema || {}, 0), examples(media, false));
      });
      if (ok) { body.appendChild(head); add(body, detail); } else {
        body.appendChild(el("details", null, el("summary", null, head), detail));
      }
      out.push(body);
    });
    return out;
  }

  // tryIt is a form that sends the operation from this page, with the
  // token from the header (sent only to this origin, kept in no storage).
  function tryIt(path, method, op) {
    var params = (op.parameters || []).map(resolve);
    var rb = op.requestBody ? resolve(op.requestBody) : null;
    var json = rb && rb.content && rb.content["application/json"];
    if (rb && !json) return null; // uploads: use a client of your own
    var ok200 = resolve((op.responses || {})["200"] || {});
    if (ok200.content && ok200.content["text/event-stream"]) return null; // streams never end
    var inputs = {};
    var form = el("form", { class: "try" });
    params.forEach(function (p) {
      var id = "try-" + op.operationId + "-" + p.in + "-" + p.name;
      inputs[p.in + ":" + p.name] = el("input", { id: id, name: p.name, placeholder: p.required ? "required" : "" });
      form.appendChild(el("label", { for: id }, p.name + " (" + p.in + ")"));
      form.appendChild(inputs[p.in + ":" + p.name]);
    });
    var body = null;
    if (json) {
      var ex = json.examples && Object.keys(json.examples)[0];
      var bodyID = "try-" + op.operationId + "-body";
      body = el("textarea", { id: bodyID, spellcheck: "false" });
      body.value = ex ? JSON.stringify(resolve(json.examples[ex]).value, null, 2) : "{}";
      form.appendChild(el("label", { for: bodyID }, "Body (application/json)"));
      form.appendChild(body);
    }
    var result = el("div", { class: "result", "aria-live": "polite" });
    form.appendChild(el("button", { type: "submit" }, "Send"));
    form.appendChild(result);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var url = path.replace(/\{([^}]+)\}/g, function (_, name) {
        var i = inputs["path:" + name];
        return encodeURIComponent(i ? i.value : "");
      });
      var q = new URLSearchParams();
      var headers = {};
      params.forEach(function (p) {
        var v = inputs[p.in + ":" + p.name].value;
        if (v === "") return;
        if (p.in === "query") q.append(p.name, v);
        if (p.in === "header") headers[p.name] = v;
      });
      var token = document.getElementById("token").value.trim();
      if (token) headers.Authorization = "Bearer " + token;
      var init = { method: method.toUpperCase(), headers: headers, credentials: "omit" };
      if (body) { init.body = body.value; headers["Content-Type"] = "application/json"; }
      var qs = q.toString();
      result.textContent = "Sending…";
      fetch("." + url + (qs ? "?" + qs : ""), init).then(function (res) {
        return res.text().then(function (text) {
          var shown = text;
          try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
          var hs = ["content-type", "etag", "location", "x-correlation-id", "idempotent-replayed"].filter(function (h) { return res.headers.get(h); })
            .map(function (h) { return h + ": " + res.headers.get(h); });
          result.textContent = "";
          result.appendChild(el("div", null, el("span", { class: "status s" + String(res.status).charAt(0) }, res.status), " ", res.statusText));
          if (hs.length) result.appendChild(el("pre", null, el("code", null, hs.join("\n"))));
          if (shown) result.appendChild(el("pre", null, el("code", null, shown)));
        });
      }).catch(function (err) { result.textContent = "The request failed: " + err; });
    });
    return el("details", null, el("summary", null, "Try it"), form);
  }

  function security(op) {
    if (!op.security) return null;
    if (!op.security.length) return el("p", { class: "muted" }, "Public: no credentials needed.");
    if (op.security.every(function (r) { return Object.keys(r).length > 0; })) {
      return el("p", { class: "muted" }, "Needs credentials, even in development mode.");
    }
    return null;
  }

  function operation(path, method, op) {
    return el("article", { class: "op", id: "op-" + op.operationId },
      el("h3", null, el("span", { class: "method " + method }, method), el("code", null, path), el("span", { class: "summary" }, op.summary || "")),
      el("div", { class: "opid" }, op.operationId),
      op.description ? prose(op.description) : null,
      security(op), parameters(op), requestBody(op), responses(op), tryIt(path, method, op));
  }

  function render(doc) {
    spec = doc;
    var info = doc.info || {};
    document.getElementById("title").textContent = info.title || "API";
    document.getElementById("version").textContent = info.version ? "version " + info.version : "";
    document.title = (info.title || "API") + " API";
    var main = document.getElementById("main");
    var nav = document.getElementById("nav");
    main.textContent = "";
    nav.textContent = "";
    main.appendChild(el("section", { class: "intro" }, info.summary ? el("p", null, el("strong", null, info.summary)) : null, prose(info.description)));

    var tags = (doc.tags || []).map(function (t) { return t.name; });
    var byTag = {};
    Object.keys(doc.paths || {}).sort().forEach(function (path) {
      ["get", "post", "put", "patch", "delete"].forEach(function (m) {
        var op = doc.paths[path][m];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "other";
        if (tags.indexOf(tag) < 0) tags.push(tag);
        (byTag[tag] = byTag[tag] || []).push({ path: path, method: m, op: op });
      });
    });
    tags.forEach(function (tag) {
      var ops = byTag[tag];
      if (!ops) return;
      var t = (doc.tags || []).filter(function (x) { return x.name === tag; })[0] || {};
      var section = el("section", { id: "tag-" + tag }, el("h2", null, tag), t.description ? prose(t.description) : null);
      var links = el("ul");
      ops.forEach(function (o) {
        section.appendChild(operation(o.path, o.method, o.op));
        links.appendChild(el("li", null, el("a", { href: "#op-" + o.op.operationId },
          el("span", { class: "method " + o.method }, o.method), el("span", null, o.op.summary || o.path))));
      });
      main.appendChild(section);
      nav.appendChild(el("h2", null, el("a", { href: "#tag-" + tag }, tag)));
      nav.appendChild(links);
    });
    document.body.setAttribute("data-rendered", String(Object.keys(byTag).length));
    if (location.hash) {
      var target = document.getElementById(location.hash.slice(1));
      if (target) target.scrollIntoView();
    }
  }

  fetch("openapi.json", { credentials: "omit" }).then(function (res) {
    if (!res.ok) throw new Error("openapi.json answered " + res.status);
    return res.json();
  }).then(render).catch(function (err) {
    var main = document.getElementById("main");
    main.textContent = "";
    main.appendChild(el("p", { class: "error" }, "The description could not be loaded: " + err.message));
    document.body.setAttribute("data-rendered", "error");
  });
})();
