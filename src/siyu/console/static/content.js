// siyu console: the content editor. The live SMS part counter, the smart SMS card's two-level
// menu designer, the variables picker, the live preview, attachment limits and material uploads.
// Plain JS, no library; texts come from data-* attributes the server wrote in the page's language.
(function () {
  "use strict";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));

  // --- SMS parts: the same rule as siyu/content/sms.py -----------------------------------------
  // Signature 【…】 + text, one character each (UTF-16 code units, as the carriers' UCS-2 sends
  // them): up to 70 is one part, longer texts are billed at 67 per part.
  function countSms(text, sign, single, perPart) {
    const name = (sign || "").trim().replace(/^[【\[]+|[】\]]+$/g, "");
    const signature = name ? "【" + name + "】" : "";
    const chars = (signature + (text || "")).length; // String.length counts UTF-16 code units
    if (!text) return { chars, parts: 0, per_part: single, left: single - chars };
    if (chars <= single) return { chars, parts: 1, per_part: single, left: single - chars };
    const parts = Math.ceil(chars / perPart);
    return { chars, parts, per_part: perPart, left: parts * perPart - chars };
  }
  window.siyuCountSms = countSms;

  $$(".ct-counter").forEach((el) => {
    const text = document.getElementById(el.dataset.text);
    const sign = document.getElementById(el.dataset.sign);
    const single = Number(el.dataset.single), perPart = Number(el.dataset.perPart);
    const update = () => {
      const c = countSms(text.value, sign ? sign.value : "", single, perPart);
      el.textContent = fill(el.dataset.template, c);
      el.dataset.parts = String(c.parts);
      el.classList.toggle("ct-multi", c.parts > 1);
    };
    [text, sign].forEach((input) => input && input.addEventListener("input", update));
    update();
  });

  // --- variables picker: insert at the caret of the last field used ----------------------------
  let target = null;
  $$("[data-var-target]").forEach((el) => el.addEventListener("focus", () => { target = el; }));
  $$(".ct-var").forEach((btn) => btn.addEventListener("click", () => {
    const el = target || $("[data-var-target]");
    if (!el) return;
    const start = el.selectionStart ?? el.value.length, end = el.selectionEnd ?? el.value.length;
    el.value = el.value.slice(0, start) + btn.dataset.insert + el.value.slice(end);
    el.focus();
    el.selectionStart = el.selectionEnd = start + btn.dataset.insert.length;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }));

  // --- WeCom attachments: at most 9 -------------------------------------------------------------
  const attach = $("#attachments");
  if (attach) {
    const boxes = $$("input[name=attachments]", attach);
    const max = Number(attach.dataset.max);
    const limit = () => {
      const full = boxes.filter((b) => b.checked).length >= max;
      boxes.forEach((b) => { b.disabled = full && !b.checked; });
      const status = $("#attachments-status");
      if (status) status.textContent = full ? attach.dataset.full : "";
    };
    boxes.forEach((b) => b.addEventListener("change", limit));
    limit();
  }

  // --- webhook data: JSON checked as it is typed ------------------------------------------------
  const data = $("#f-data"), jsonStatus = $("#json-status");
  if (data && jsonStatus) {
    const check = () => {
      if (!data.value.trim()) { jsonStatus.textContent = ""; return; }
      try { JSON.parse(data.value); jsonStatus.textContent = jsonStatus.dataset.ok; jsonStatus.className = "muted"; }
      catch (e) { jsonStatus.textContent = jsonStatus.dataset.bad; jsonStatus.className = "flash err"; }
    };
    data.addEventListener("input", check);
    check();
  }

  // --- smart SMS menu designer ------------------------------------------------------------------
  // The card's buttons as the content library stores them: {label, type: url|reply|call|menu,
  // url|reply|phone, buttons (a menu's, one level only)}, kept as JSON in the hidden field.
  const designer = $("#menu-designer");
  if (designer) {
    const d = designer.dataset;
    const hidden = $("#card-buttons"), rows = $("#menu-rows");
    const field = { url: "url", reply: "reply", call: "phone" };
    let buttons = [];
    try { buttons = JSON.parse(hidden.value || "[]"); } catch (e) { buttons = []; }
    if (!Array.isArray(buttons)) buttons = [];
    const subCount = () => buttons.reduce((n, b) => n + (b.type === "menu" ? (b.buttons || []).length : 0), 0);
    const save = () => {
      hidden.value = JSON.stringify(buttons);
      $("#menu-count").textContent = fill(d.tCount, { top: buttons.length, sub: subCount() });
      $("#add-button").disabled = buttons.length >= Number(d.topMax);
      $$(".ct-add-sub", rows).forEach((b) => { b.disabled = subCount() >= Number(d.subMax); });
    };
    const typeSelect = (b, nested) => {
      const sel = document.createElement("select");
      sel.className = "ct-b-type";
      (nested ? ["url", "reply", "call"] : ["url", "reply", "call", "menu"]).forEach((t) => {
        const o = document.createElement("option");
        o.value = t; o.textContent = d["t" + t[0].toUpperCase() + t.slice(1)]; o.selected = b.type === t;
        sel.appendChild(o);
      });
      return sel;
    };
    const row = (b, list, nested) => {
      const div = document.createElement("div");
      div.className = nested ? "ct-b-row ct-b-sub" : "ct-b-row";
      const label = Object.assign(document.createElement("input"), { className: "ct-b-label", placeholder: d.tLabel, value: b.label || "", maxLength: 25 });
      label.addEventListener("input", () => { b.label = label.value; save(); });
      const sel = typeSelect(b, nested);
      const value = Object.assign(document.createElement("input"), { className: "ct-b-value", placeholder: d.tValue });
      const showValue = () => {
        value.hidden = b.type === "menu";
        value.value = b[field[b.type]] || "";
      };
      value.addEventListener("input", () => { b[field[b.type]] = value.value; save(); });
      sel.addEventListener("change", () => {
        const old = b.type;
        if (field[old]) delete b[field[old]];
        b.type = sel.value;
        if (b.type === "menu") b.buttons = b.buttons || [];
        else delete b.buttons;
        draw();
      });
      const remove = Object.assign(document.createElement("button"), { type: "button", className: "link ct-b-remove", textContent: d.tRemove });
      remove.addEventListener("click", () => { list.splice(list.indexOf(b), 1); draw(); });
      div.append(label, sel, value, remove);
      showValue();
      if (!nested && b.type === "menu") {
        const add = Object.assign(document.createElement("button"), { type: "button", className: "ct-add-sub", textContent: d.tAddSub });
        add.addEventListener("click", () => { b.buttons.push({ label: "", type: "reply", reply: "" }); draw(); });
        div.appendChild(add);
      }
      return div;
    };
    const draw = () => {
      rows.replaceChildren();
      buttons.forEach((b) => {
        rows.appendChild(row(b, buttons, false));
        if (b.type === "menu") (b.buttons || []).forEach((s) => rows.appendChild(row(s, b.buttons, true)));
      });
      save();
    };
    $("#add-button").addEventListener("click", () => { buttons.push({ label: "", type: "url", url: "" }); draw(); });
    draw();
  }

  // --- live preview of the unsaved form ---------------------------------------------------------
  const previewBtn = $("#draft-preview");
  if (previewBtn) {
    const result = $("#draft-result");
    const run = async () => {
      const form = new FormData($("#template-form"));
      form.set("contact", $("#draft-contact").value);
      const resp = await fetch("/console/content/draft-preview", {
        method: "POST", body: new URLSearchParams(form), credentials: "same-origin",
        headers: { "X-CSRF-Token": window.siyu.csrf },
      });
      const body = await resp.json().catch(() => ({}));
      if (resp.ok) { result.innerHTML = body.html; result.className = ""; }
      else { result.textContent = fill(result.dataset.failed, { what: body.error || resp.statusText }); result.className = "flash err"; }
    };
    previewBtn.addEventListener("click", run);
    $("#draft-contact").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); run(); } });
  }

  // --- confirmations ---------------------------------------------------------------------------
  $$("form[data-confirm]").forEach((f) => f.addEventListener("submit", (e) => {
    if (!window.confirm(f.dataset.confirm)) e.preventDefault();
  }));

  // --- materials: upload the image first (raw body, CSRF header), then save the form ------------
  const mform = $("#material-form");
  if (mform) {
    const kind = $("#material-kind"), upload = $("#material-upload"), fileId = $("#material-file-id");
    const status = $("#material-upload-status");
    const showKind = () => $$("[data-kinds]", mform).forEach((l) => {
      l.hidden = !l.dataset.kinds.split(" ").includes(kind.value);
    });
    kind.addEventListener("change", showKind);
    showKind();
    upload.addEventListener("change", async () => {
      const file = upload.files[0];
      fileId.value = "";
      if (!file) return;
      status.textContent = mform.dataset.uploading;
      status.className = "muted";
      const resp = await fetch("/console/content/files?filename=" + encodeURIComponent(file.name), {
        method: "POST", body: file, credentials: "same-origin",
        headers: { "X-CSRF-Token": window.siyu.csrf, "Content-Type": file.type || "application/octet-stream" },
      });
      const body = await resp.json().catch(() => ({}));
      if (resp.ok) { fileId.value = body.id; status.textContent = mform.dataset.uploaded + "（" + file.name + "）"; status.dataset.file = body.id; }
      else { status.textContent = body.error || resp.statusText; status.className = "flash err"; }
    });
    mform.addEventListener("submit", (e) => {
      if (kind.value !== "link" && !fileId.value) {
        e.preventDefault();
        status.textContent = mform.dataset.needFile;
        status.className = "flash err";
      }
    });
  }
})();
