// The admin UI's little JavaScript: times in the viewer's zone, a drop
// zone for uploads, the filter builder, the time-travel picker, and form
// checks before the host checks again. Every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const t of document.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.textContent = d.toLocaleString(); t.title = t.getAttribute("datetime"); }
  }
  const drop = document.querySelector("[data-dropzone]");
  if (drop) {
    const input = drop.querySelector("input[type=file]");
    drop.addEventListener("dragover", e => { e.preventDefault(); drop.setAttribute("data-over", ""); });
    drop.addEventListener("dragleave", () => drop.removeAttribute("data-over"));
    drop.addEventListener("drop", e => {
      e.preventDefault(); drop.removeAttribute("data-over");
      if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; }
    });
  }
  const b = document.querySelector("[data-builder]");
  if (b) {
    const fields = JSON.parse(b.dataset.fields || "[]");
    const f = b.querySelector("#b-field"), op = b.querySelector("#b-op"), v = b.querySelector("#b-value");
    for (const x of fields) f.add(new Option(x.name + " (" + x.type + ")", x.name));
    const ops = () => { op.length = 0; const x = fields.find(x => x.name === f.value); for (const o of (x ? x.operators : [])) op.add(new Option(o, o)); };
    f.addEventListener("change", ops); ops();
    b.querySelector("#b-add").addEventListener("click", () => {
      const q = document.querySelector("#query"); let doc = {};
      try { doc = q.value.trim() ? JSON.parse(q.value) : {}; } catch (e) { q.setCustomValidity("not JSON"); q.reportValidity(); return; }
      const x = fields.find(x => x.name === f.value); let val = v.value;
      if (["in", "notin", "cs", "ov", "between"].includes(op.value)) val = val.split(",").map(s => s.trim()).filter(Boolean).map(s => conv(x, s));
      else if (op.value === "null") val = val !== "false";
      else val = conv(x, val);
      doc[f.value + "." + op.value] = val; q.value = JSON.stringify(doc);
    });
  }
  function conv(x, s) {
    if (!x) return s;
    if (x.type === "integer" || x.type === "number") { const n = Number(s); return isNaN(n) ? s : n; }
    if (x.type === "boolean") return s === "true";
    return s;
  }
  const at = document.querySelector("[data-utc=at]"), atUTC = document.querySelector("#at-utc");
  if (at && atUTC) {
    if (atUTC.value) { const d = new Date(atUTC.value); if (!isNaN(d)) at.value = new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19); }
    at.addEventListener("change", () => { atUTC.value = at.value ? new Date(at.value).toISOString() : ""; });
  }
  for (const form of document.querySelectorAll("form[data-command]")) {
    form.addEventListener("submit", e => { if (!form.checkValidity()) { e.preventDefault(); form.reportValidity(); } });
  }
});
// The events page follows the feed: it asks for what came after the last
// event it shows, every two seconds, and puts new ones on top.
document.addEventListener("DOMContentLoaded", () => {
  const live = document.querySelector("#live[data-feed]");
  if (!live) return;
  const body = document.querySelector("#feed");
  let cursor = live.dataset.cursor;
  const cell = (text, cls) => { const td = document.createElement("td"); if (cls) { const c = document.createElement("code"); c.className = cls; c.textContent = text; td.append(c); } else td.textContent = text; return td; };
  const poll = async () => {
    try {
      const res = await fetch(live.dataset.feed + "&after=" + encodeURIComponent(cursor), {credentials: "same-origin"});
      if (res.ok) {
        const page = await res.json();
        for (const e of page.events) {
          const tr = document.createElement("tr");
          tr.append(cell(new Date(e.created_at).toLocaleString()), cell(e.tenant), cell(e.stream), cell(String(e.version)), cell(e.type), cell(JSON.stringify(e.data), "json"));
          body.prepend(tr);
          const empty = document.querySelector("#feed-empty"); if (empty) empty.remove();
        }
        cursor = page.cursor;
      }
    } catch (err) { /* the next round tries again */ }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
});
