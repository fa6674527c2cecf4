// Timeline SOP editor: audience (tag / segment / stage) with a live preview of who holds it,
// rows "day N at HH:MM → template on a channel" (templates filtered by channel), an optional
// "only to those who have not done" event per row, and a goal event. Saving posts the timeline
// to /console/journeys/sop; the server validates and returns every problem with its field
// (rows[1].template), which is shown next to that field.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("sop-data").textContent);
  const T = data.text, O = data.options;
  const rowsEl = document.getElementById("sop-rows");
  const kindEl = document.getElementById("sop-audience");
  const valueEl = document.getElementById("sop-audience-value");
  const exitEl = document.getElementById("sop-exit-event");
  const msgEl = document.getElementById("sop-message");
  const previewEl = document.getElementById("sop-preview");
  const tl = data.timeline || {};

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  function fill(select, items, current, blank) {
    select.replaceChildren();
    if (blank !== undefined) select.append(el("option", { value: "" }, blank));
    for (const it of items) {
      const o = el("option", { value: it.key, translate: it.raw ? "no" : null }, it.name || it.key);
      if (it.key === current) o.selected = true;
      select.append(o);
    }
  }
  // the value is the event name; the option reads as its catalogue title (下单). A name with no
  // title reads as itself and is marked as data (translate="no"), like other names the brand typed.
  const titled = (e) => ({ key: e, name: (data.events || {})[e] || e, raw: !((data.events || {})[e] && data.events[e] !== e) });
  const events = O.events.map(titled);
  function eventChoices(current) {  // an event named by the journey but not (yet) in the data stays choosable
    return current && !O.events.includes(current) ? events.concat([titled(current)]) : events;
  }

  // --- audience -------------------------------------------------------------------------------
  function audienceItems(kind) {
    if (kind === "segment") return O.segments;
    if (kind === "stage") return data.stages;
    return O.tags;
  }
  function fillAudience(current) {
    fill(valueEl, audienceItems(kindEl.value), current, T.sop_choose);
    preview();
  }
  let previewTimer = null;
  function preview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      if (!valueEl.value) { previewEl.textContent = ""; return; }
      const q = new URLSearchParams({ kind: kindEl.value, value: valueEl.value });
      const r = await fetch("/console/journeys/editor/preview?" + q, { credentials: "same-origin" });
      if (!r.ok) return;
      const p = await r.json();
      previewEl.textContent = p.count ? T.preview.replace("{count}", p.count) + (p.names.length ? "：" + p.names.join("、") + (p.count > p.names.length ? "…" : "") : "") : T.sop_preview_none;
      previewEl.dataset.count = p.count;
    }, 200);
  }
  kindEl.addEventListener("change", () => fillAudience(""));
  valueEl.addEventListener("change", preview);

  // --- rows -----------------------------------------------------------------------------------
  function addRow(r) {
    r = r || { day: rowsEl.children.length ? 1 : 0, at: rowsEl.children.length ? "10:00" : "", channel: data.channels[0].key };
    const tr = el("tr", { class: "sop-row" });
    if (r.id) tr.dataset.id = r.id;
    const day = el("input", { type: "number", min: "0", max: "366", class: "sop-day", value: r.day ?? 0 });
    const at = el("input", { type: "time", class: "sop-at", value: r.at || "" });
    const channel = el("select", { class: "sop-channel" });
    fill(channel, data.channels, r.channel);
    const template = el("select", { class: "sop-template" });
    const fillTemplates = (cur) => fill(template, O.templates[channel.value] || [], cur, T.sop_choose);
    fillTemplates(r.template);
    channel.addEventListener("change", () => fillTemplates(""));
    const unless = el("select", { class: "sop-unless" });
    fill(unless, eventChoices(r.unless_event), r.unless_event || "", T.sop_unless_any);
    const remove = el("button", { type: "button", class: "sop-remove" }, T.sop_remove_row);
    remove.addEventListener("click", () => { tr.remove(); renumber(); });
    const cell = (input, field) => el("td", {}, input, el("span", { class: "sop-err", "data-field": field }));
    tr.append(cell(day, "day"), cell(at, "at"), cell(channel, "channel"), cell(template, "template"), cell(unless, "unless_event"), el("td", {}, remove, el("span", { class: "sop-err", "data-field": "" })));
    rowsEl.append(tr);
    renumber();
  }
  function renumber() {
    [...rowsEl.children].forEach((tr, i) => { tr.dataset.row = i; });
  }
  document.getElementById("sop-add-row").addEventListener("click", () => addRow());

  // --- save -----------------------------------------------------------------------------------
  function timeline() {
    return {
      key: document.getElementById("sop-key").value.trim(),
      name: document.getElementById("sop-name").value.trim(),
      audience: kindEl.value,
      audience_value: valueEl.value,
      exit_event: exitEl.value || null,
      rows: [...rowsEl.children].map((tr) => ({
        id: tr.dataset.id || null,
        day: parseInt(tr.querySelector(".sop-day").value || "0", 10),
        at: tr.querySelector(".sop-at").value || null,
        channel: tr.querySelector(".sop-channel").value,
        template: tr.querySelector(".sop-template").value,
        unless_event: tr.querySelector(".sop-unless").value || null,
      })),
    };
  }
  function clearErrors() {
    document.querySelectorAll(".sop-err").forEach((e) => { e.textContent = ""; });
    document.querySelectorAll(".sop-bad").forEach((e) => e.classList.remove("sop-bad"));
    msgEl.hidden = true;
  }
  function showError(path, message) {
    const m = /^rows\[(\d+)\](?:\.(\w+))?/.exec(path);
    let slot = null;
    if (m) {
      const tr = rowsEl.children[parseInt(m[1], 10)];
      if (tr) {
        slot = tr.querySelector('.sop-err[data-field="' + (m[2] || "") + '"]') || tr.querySelector('.sop-err[data-field=""]');
        tr.classList.add("sop-bad");
      }
    } else {
      slot = document.querySelector('.sop-err[data-for="' + path.split(".")[0].split("[")[0] + '"]');
    }
    if (!slot) slot = msgEl;
    slot.hidden = false;
    slot.textContent = (slot.textContent ? slot.textContent + "；" : "") + message;
  }
  async function post(body) {
    const r = await fetch("/console/journeys/sop", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": data.csrf },
      body: JSON.stringify(body),
    });
    return [r, await r.json()];
  }
  async function save(start) {
    clearErrors();
    const [r, res] = await post({ timeline: timeline(), start: start });
    if (!res.ok) {
      for (const e of res.errors) showError(e.path, e.message);
      msgEl.hidden = false;
      msgEl.textContent = T.sop_invalid;
      return;
    }
    window.location.assign(res.redirect);
  }
  let checkTimer = null;
  function check() {  // inline validation while editing: the same server check, without saving
    clearTimeout(checkTimer);
    checkTimer = setTimeout(async () => {
      const t = timeline();
      if (!t.key || !t.name || !t.audience_value || t.rows.some((r) => !r.template)) return;
      const [, res] = await post({ timeline: t, check: true });
      clearErrors();
      if (!res.ok) for (const e of res.errors) showError(e.path, e.message);
      else if (res.leaving) { msgEl.hidden = false; msgEl.textContent = T.leaving.replace("{count}", res.leaving); }
    }, 400);
  }
  document.getElementById("sop-form").addEventListener("change", check);
  document.getElementById("sop-save").addEventListener("click", () => save(false));
  document.getElementById("sop-save-start").addEventListener("click", () => save(true));

  fill(exitEl, eventChoices(tl.exit_event), tl.exit_event || "", T.sop_exit_none);
  fillAudience(tl.audience_value || "");
  for (const r of tl.rows || []) addRow(r);
  if (!rowsEl.children.length) addRow();
})();
