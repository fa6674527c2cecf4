// Segment builder: a visual AND/OR tree that writes the JSON definition into
// #segment-definition, and reads it back when valid JSON is typed or pasted there. Every
// change asks /console/segments/preview (debounced) for the live count and a masked sample.
(function () {
  "use strict";
  const area = document.getElementById("segment-definition");
  const box = document.getElementById("segment-builder");
  if (!area || !box) return;
  const T = JSON.parse(document.getElementById("segb-text").textContent);
  const CHOICES = JSON.parse(document.getElementById("segb-choices").textContent);
  const countEl = document.getElementById("segment-count");
  const busyEl = document.getElementById("segment-count-busy");
  const errEl = document.getElementById("segment-error");
  const notesEl = document.getElementById("segment-notes");
  const sampleEl = document.getElementById("segment-sample");
  const LEAVES = ["attribute", "tags", "event", "stage", "channel", "first_touch", "consent", "rfm", "churn_risk", "segment", "group", "community_role", "tier", "points", "points_expiring", "coupons"];
  const CMP = ["eq", "ne", "lt", "lte", "gt", "gte"];
  const ATTR_OPS = CMP.concat(["in", "not_in", "contains", "between", "is_set", "not_set", "within_last_days", "within_next_days", "anniversary_within_days"]);
  const DEFAULTS = {
    attribute: () => ({ name: "", op: "eq", value: "" }),
    tags: () => ({ match: "any", tags: [] }),
    event: () => ({ event: "Order Completed", count: { op: "gte", value: 1 }, within: { days: 30 } }),
    stage: () => ({ stages: ["retention"] }),
    channel: () => ({ channels: [] }),
    first_touch: () => ({ channels: [] }),
    consent: () => ({ purpose: "marketing", channel: "*", state: "granted" }),
    rfm: () => ({ segments: [] }),
    churn_risk: () => ({ op: "gte", value: 0.7 }),
    segment: () => ({ segment: "", member: true }),
    group: () => ({}),
    community_role: () => ({ roles: ["seed"] }),
    tier: () => ({}),
    points: () => ({ balance: "active", op: "gte", value: 100 }),
    points_expiring: () => ({ within_days: 30, op: "gte", value: 1 }),
    coupons: () => ({ state: "unused", count: { op: "gte", value: 1 } }),
  };
  const ROLES = ["seed", "koc", "member"];
  let root = null;

  // --- small DOM helpers ---------------------------------------------------------------------
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  // operators read as words (大于等于), not codes (gte); the page passes their labels in T
  function opLabel(o) { return T["op_" + o] || o; }
  function select(options, value, onChange, labels) {
    const s = el("select", { on: { change: () => onChange(s.value) } });
    for (const o of options) {
      const opt = el("option", { value: o }, labels ? labels(o) : o);
      if (o === value) opt.selected = true;
      s.append(opt);
    }
    return s;
  }
  function input(value, placeholder, onInput, extra) {
    const more = Object.assign({}, extra || {});
    const on = Object.assign({ input: () => onInput(i.value) }, more.on || {});
    delete more.on;
    const i = el("input", Object.assign({ value: value ?? "", placeholder: placeholder, on: on }, more));
    return i;
  }
  // Property names seen on an event (from the data), offered by the property box.
  const propsList = el("datalist", { id: "segb-props" });
  document.body.append(propsList);
  function fillProps(eventName) {
    const names = (CHOICES.properties || {})[eventName] || [];
    propsList.replaceChildren(...names.map((n) => el("option", { value: n })));
  }
  // A condition just added is not an error: it is waiting to be filled in.
  function incomplete(node) {
    if (!node || typeof node !== "object") return true;
    switch (node.type) {
      case "and": case "or": return !(node.conditions || []).length || node.conditions.some(incomplete);
      case "not": return incomplete(node.condition);
      case "tags": return !(node.tags || []).length;
      case "channel": return !(node.channels || []).length;
      case "first_touch": return !(node.channels || []).length && !(node.entry_codes || []).length;
      case "stage": return !(node.stages || []).length;
      case "rfm": return !(node.segments || []).length && !node.r && !node.f && !node.m;
      case "attribute": return !String(node.name || "").trim();
      case "event": return !String(node.event || "").trim();
      case "segment": return !String(node.segment || "").trim();
      case "community_role": return !(node.roles || []).length;
      default: return false;
    }
  }
  const list = (s) => s.split(/[,，]/).map((x) => x.trim()).filter(Boolean);
  function scalar(s) { // what the user typed: a number, a boolean, or text
    const v = s.trim();
    if (v === "true" || v === "false") return v === "true";
    if (v !== "" && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) return Number(v);
    return s;
  }
  const show = (v) => Array.isArray(v) ? v.join(", ") : (v === undefined || v === null ? "" : String(v));

  // --- leaves ----------------------------------------------------------------------------------
  function leafFields(node) {
    const ch = () => changed();
    const f = [];
    switch (node.type) {
      case "attribute": {
        f.push(input(node.name, T.segb_attr_name, (v) => { node.name = v; ch(); }));
        f.push(select(ATTR_OPS, node.op, (v) => {
          node.op = v; delete node.value; delete node.days;
          if (v.endsWith("_days")) node.days = 30; else if (v !== "is_set" && v !== "not_set") node.value = "";
          render(); ch();
        }, opLabel));
        if (node.op && node.op.endsWith("_days")) {
          f.push(input(node.days, T.segb_days, (v) => { node.days = Number(v) || 0; ch(); }, { type: "number", min: 0 }));
        } else if (node.op !== "is_set" && node.op !== "not_set") {
          f.push(input(show(node.value), T.segb_value, (v) => {
            node.value = ["in", "not_in", "between"].includes(node.op) ? list(v).map(scalar) : scalar(v); ch();
          }));
        }
        break;
      }
      case "tags":
        f.push(select(["any", "all", "none"], node.match || "any", (v) => { node.match = v; ch(); }, (o) => T["segb_match_" + o]));
        f.push(input(show(node.tags), T.segb_tags, (v) => { node.tags = list(v); ch(); }, { list: "segb-tags" }));
        break;
      case "event": {
        f.push(input(node.event, T.segb_event, (v) => { node.event = v; fillProps(v); ch(); }, { list: "segb-events" }));
        if (!node.sum && !node.avg && !node.first && !node.last) {
          const c = node.count || { op: "gte", value: 1 };
          f.push(select(CMP, c.op || "gte", (v) => { node.count = Object.assign({}, c, { op: v }); ch(); }, opLabel));
          f.push(input(c.value ?? 1, T.segb_times, (v) => { node.count = Object.assign({}, node.count || c, { value: Number(v) || 0 }); ch(); }, { type: "number", min: 0, class: "segb-num" }));
        }
        if (!node.within || node.within.days !== undefined) {
          f.push(input(node.within ? node.within.days : "", T.segb_within, (v) => {
            if (v.trim() === "") delete node.within; else node.within = { days: Number(v) || 1 }; ch();
          }, { type: "number", min: 1, class: "segb-num", title: T.segb_within }));
        }
        // One "property = value" filter is offered here (property names seen on this event);
        // more filters, sums and date measures stay in the JSON.
        const w = node.where || [];
        if (w.length <= 1 && (!w[0] || w[0].op === "eq")) {
          const cur = w[0] || { property: "", op: "eq", value: "" };
          const sync = () => { if (cur.property) node.where = [cur]; else delete node.where; ch(); };
          f.push(input(cur.property, T.segb_property, (v) => { cur.property = v.trim(); sync(); }, { list: "segb-props", class: "segb-prop", on: { focus: () => fillProps(node.event) } }));
          f.push(input(show(cur.value), T.segb_value, (v) => { cur.value = scalar(v); sync(); }, { class: "segb-num" }));
        }
        if ((node.where && node.where.length > 1) || (node.where && node.where[0] && node.where[0].op !== "eq") || node.sum || node.avg || node.first || node.last || (node.within && node.within.days === undefined)) {
          f.push(el("span", { class: "muted" }, T.segb_extra));
        }
        break;
      }
      case "stage": {
        for (const st of CHOICES.stages) {
          const cb = el("input", { type: "checkbox", value: st });
          cb.checked = (node.stages || []).includes(st);
          cb.addEventListener("change", () => {
            const chosen = new Set(node.stages || []);
            if (cb.checked) chosen.add(st); else chosen.delete(st);
            node.stages = CHOICES.stages.filter((x) => chosen.has(x)); ch();
          });
          f.push(el("label", { class: "segb-check" }, cb, st));
        }
        break;
      }
      case "channel":
        f.push(input(show(node.channels), T.segb_channels, (v) => { node.channels = list(v); ch(); }, { list: "segb-channels" }));
        break;
      case "first_touch":
        f.push(input(show(node.channels), T.segb_channels, (v) => { if (list(v).length) node.channels = list(v); else delete node.channels; ch(); }, { list: "segb-channels" }));
        f.push(input(show(node.entry_codes), T.segb_entry_codes, (v) => { if (list(v).length) node.entry_codes = list(v); else delete node.entry_codes; ch(); }));
        break;
      case "consent":
        f.push(select(["marketing", "service", "analytics"], node.purpose, (v) => { node.purpose = v; ch(); }, (o) => T["purpose_" + o] || o));
        f.push(input(node.channel || "*", "*", (v) => { node.channel = v || "*"; ch(); }, { class: "segb-num" }));
        f.push(select(["granted", "withdrawn", "unknown", "not_granted"], node.state || "granted", (v) => { node.state = v; ch(); }, (o) => T["consent_" + o] || o));
        break;
      case "rfm":
        f.push(input(show(node.segments), T.segb_rfm_segments, (v) => { if (list(v).length) node.segments = list(v); else delete node.segments; ch(); }, { list: "segb-rfm" }));
        break;
      case "churn_risk":
        f.push(select(CMP, node.op || "gte", (v) => { node.op = v; ch(); }, opLabel));
        f.push(input(node.value, "0.7", (v) => { node.value = Number(v); ch(); }, { type: "number", min: 0, max: 1, step: 0.05, class: "segb-num" }));
        break;
      case "segment":
        f.push(select(["1", "0"], node.member === false ? "0" : "1", (v) => { node.member = v === "1"; ch(); }, (o) => o === "1" ? T.segb_member : T.segb_not_member));
        f.push(input(node.segment, T.segb_segment, (v) => { node.segment = v; ch(); }, { list: "segb-segments" }));
        break;
      case "group": // chat ids (empty: any group) and, optionally, "joined within N days"
        f.push(input(show(node.groups), T.segb_groups, (v) => { if (list(v).length) node.groups = list(v); else delete node.groups; ch(); }, { list: "segb-groups" }));
        f.push(input(node.joined_within_days ?? "", T.segb_joined_within, (v) => {
          if (v.trim() === "") delete node.joined_within_days; else node.joined_within_days = Math.max(0, Number(v) || 0); ch();
        }, { type: "number", min: 0, class: "segb-num", title: T.segb_joined_within }));
        break;
      case "community_role":
        for (const r of ROLES) {
          const cb = el("input", { type: "checkbox", value: r });
          cb.checked = (node.roles || []).includes(r);
          cb.addEventListener("change", () => {
            const chosen = new Set(node.roles || []);
            if (cb.checked) chosen.add(r); else chosen.delete(r);
            node.roles = ROLES.filter((x) => chosen.has(x)); ch();
          });
          f.push(el("label", { class: "segb-check" }, cb, T["segb_role_" + r] || r));
        }
        f.push(input(node.group || "", T.segb_role_group, (v) => { if (v.trim()) node.group = v.trim(); else delete node.group; ch(); }, { list: "segb-groups" }));
        break;
      case "tier": { // tiers by name (CHOICES.tiers, lowest first): "is one of" or "at least"
        const tiers = CHOICES.tiers || [];
        const mode = node.at_least ? "at_least" : "in";
        f.push(select(["in", "at_least"], mode, (v) => {
          delete node.tiers; delete node.at_least;
          if (v === "at_least" && tiers.length) node.at_least = tiers[0].key;
          render(); ch();
        }, (o) => T["segb_tier_" + o]));
        if (mode === "at_least") {
          f.push(select(tiers.map((x) => x.key), node.at_least, (v) => { node.at_least = v; ch(); },
            (k) => (tiers.find((x) => x.key === k) || { name: k }).name));
        } else {
          for (const tr of tiers) {
            const cb = el("input", { type: "checkbox", value: tr.key });
            cb.checked = (node.tiers || []).includes(tr.key);
            cb.addEventListener("change", () => {
              const chosen = new Set(node.tiers || []);
              if (cb.checked) chosen.add(tr.key); else chosen.delete(tr.key);
              const keys = tiers.map((x) => x.key).filter((k) => chosen.has(k));
              if (keys.length) node.tiers = keys; else delete node.tiers; ch();
            });
            f.push(el("label", { class: "segb-check" }, cb, tr.name));
          }
        }
        break;
      }
      case "points":
        f.push(select(["active", "pending"], node.balance || "active", (v) => { node.balance = v; ch(); }, (o) => T["segb_balance_" + o]));
        f.push(select(CMP, node.op || "gte", (v) => { node.op = v; ch(); }, opLabel));
        f.push(input(node.value, T.segb_points, (v) => { node.value = Math.trunc(Number(v) || 0); ch(); }, { type: "number", step: 1, class: "segb-num" }));
        break;
      case "points_expiring":
        f.push(input(node.within_days, T.segb_expiring_days, (v) => { node.within_days = Math.max(0, Math.trunc(Number(v) || 0)); ch(); }, { type: "number", min: 0, class: "segb-num", title: T.segb_expiring_days }));
        f.push(el("span", { class: "muted" }, T.segb_expiring_days));
        f.push(select(CMP, node.op || "gte", (v) => { node.op = v; ch(); }, opLabel));
        f.push(input(node.value ?? 1, T.segb_points, (v) => { node.value = Math.max(0, Math.trunc(Number(v) || 0)); ch(); }, { type: "number", min: 0, class: "segb-num" }));
        break;
      case "coupons": {
        const c = node.count || { op: "gte", value: 1 };
        f.push(select(["unused", "held", "redeemed", "expired"], node.state || "unused", (v) => { node.state = v; ch(); }, (o) => T["segb_coupon_" + o]));
        f.push(select(CMP, c.op || "gte", (v) => { node.count = Object.assign({}, c, { op: v }); ch(); }, opLabel));
        f.push(input(c.value ?? 1, T.segb_coupon_count, (v) => { node.count = Object.assign({}, node.count || c, { value: Math.max(0, Math.trunc(Number(v) || 0)) }); ch(); }, { type: "number", min: 0, class: "segb-num" }));
        f.push(input(show(node.templates), T.segb_coupon_templates, (v) => { if (list(v).length) node.templates = list(v); else delete node.templates; ch(); }, { list: "segb-coupons" }));
        break;
      }
      default: { // anything the builder has no form for stays editable as JSON
        const ta = el("textarea", { rows: 2, class: "segb-raw" }, JSON.stringify(node));
        ta.addEventListener("input", () => {
          try { const v = JSON.parse(ta.value); for (const k of Object.keys(node)) delete node[k]; Object.assign(node, v); ch(); } catch (e) { /* keep typing */ }
        });
        f.push(ta);
      }
    }
    return f;
  }

  function leafRow(node, onRemove) {
    const types = LEAVES.includes(node.type) ? LEAVES : LEAVES.concat([node.type]);
    const typeSel = select(types, node.type, (v) => {
      for (const k of Object.keys(node)) delete node[k];
      Object.assign(node, { type: v }, DEFAULTS[v] ? DEFAULTS[v]() : {});
      render(); changed();
    }, (o) => T["segb_type_" + o] || T.segb_type_raw);
    return el("div", { class: "segb-leaf", "data-type": node.type }, typeSel, ...leafFields(node),
      onRemove ? el("button", { type: "button", class: "link", on: { click: onRemove } }, T.segb_remove) : null);
  }

  // --- groups ----------------------------------------------------------------------------------
  function nodeView(node, onRemove) {
    if (node.type === "and" || node.type === "or") return groupView(node, onRemove);
    if (node.type === "not") {
      const inner = nodeView(node.condition, null);
      return el("div", { class: "segb-group segb-not" },
        el("div", { class: "segb-bar" }, el("b", {}, T.segb_not),
          onRemove ? el("button", { type: "button", class: "link", on: { click: onRemove } }, T.segb_remove) : null),
        inner);
    }
    return leafRow(node, onRemove);
  }

  function groupView(node, onRemove) {
    node.conditions = node.conditions || [];
    const kids = el("div", { class: "segb-kids" });
    node.conditions.forEach((c, i) => {
      kids.append(nodeView(c, () => { node.conditions.splice(i, 1); render(); changed(); }));
    });
    const add = (n) => { node.conditions.push(n); render(); changed(); };
    const bar = el("div", { class: "segb-bar" },
      select(["and", "or"], node.type, (v) => { node.type = v; changed(); }, (o) => o === "and" ? T.segb_all : T.segb_any),
      el("button", { type: "button", on: { click: () => add(Object.assign({ type: "tags" }, DEFAULTS.tags())) } }, T.segb_add),
      el("button", { type: "button", on: { click: () => add({ type: "or", conditions: [Object.assign({ type: "tags" }, DEFAULTS.tags())] }) } }, T.segb_add_group),
      el("button", { type: "button", on: { click: () => add({ type: "not", condition: Object.assign({ type: "tags" }, DEFAULTS.tags()) }) } }, T.segb_not),
      onRemove ? el("button", { type: "button", class: "link", on: { click: onRemove } }, T.segb_remove) : null);
    return el("div", { class: "segb-group", "data-type": node.type }, bar, kids);
  }

  function render() {
    box.replaceChildren();
    if (!root || typeof root !== "object") return;
    if (root.type === "and" || root.type === "or") {
      box.append(groupView(root, null));
    } else {
      box.append(nodeView(root, null));
      box.append(el("button", { type: "button", on: { click: () => {
        root = { type: "and", conditions: [root, Object.assign({ type: "tags" }, DEFAULTS.tags())] }; render(); changed();
      } } }, T.segb_add));
    }
  }

  // --- JSON and live preview -----------------------------------------------------------------
  let seq = 0;
  function showError(text) {
    errEl.textContent = text || "";
    errEl.hidden = !text;
  }
  const waitEl = document.getElementById("segment-incomplete");
  async function preview() {
    const mine = ++seq;
    if (incomplete(root)) {
      showError("");
      countEl.textContent = "";
      countEl.dataset.state = "incomplete";
      if (waitEl) waitEl.hidden = false;
      busyEl.hidden = true;
      return;
    }
    if (waitEl) waitEl.hidden = true;
    busyEl.hidden = false;
    countEl.dataset.state = "busy";
    try {
      const data = await siyu.post("/console/segments/preview", { definition: root });
      if (mine !== seq) return;
      showError("");
      countEl.textContent = String(data.count);
      countEl.dataset.state = "done";
      notesEl.hidden = !(data.notes && data.notes.length);
      sampleEl.replaceChildren(...data.sample.map((c) => el("li", {},
        el("a", { href: "/console/contacts/" + c.id }, "#" + c.id), " ", el("span", { translate: "no" }, c.name || ""), " ",
        el("span", { class: "muted", translate: "no" }, (c.identifiers || []).join(" · ")))));
    } catch (e) {
      if (mine !== seq) return;
      countEl.textContent = "";
      countEl.dataset.state = "error";
      sampleEl.replaceChildren();
      showError((e.data && e.data.detail) || T.segments_failed.replace("{message}", e.message));
    } finally {
      if (mine === seq) busyEl.hidden = true;
    }
  }
  const later = siyu.debounce(preview, 400);
  function changed() {
    area.value = JSON.stringify(root, null, 2);
    later();
  }
  function fromText(now) {
    try {
      root = JSON.parse(area.value);
    } catch (e) {
      seq++;
      countEl.textContent = "";
      countEl.dataset.state = "error";
      showError(T.segments_bad_json.replace("{message}", e.message));
      const adv = document.getElementById("segment-advanced");
      if (adv) adv.open = true;
      return;
    }
    render();
    if (now) preview(); else later();
  }
  area.addEventListener("input", () => fromText(false));
  fromText(true);

  // --- recompute -------------------------------------------------------------------------------
  const status = document.getElementById("segment-recompute-status");
  const buttons = [document.getElementById("segment-recompute"), document.getElementById("segment-recompute-full")].filter(Boolean);
  for (const b of buttons) {
    b.addEventListener("click", async () => {
      buttons.forEach((x) => { x.disabled = true; });
      status.hidden = false;
      status.className = "flash seg-busy";
      status.textContent = T.segments_computing;
      try {
        const data = await siyu.post(b.dataset.url, {});
        status.className = "flash ok";
        status.textContent = data.message;
        const m = document.getElementById("segment-members");
        if (m) { m.textContent = data.members.toLocaleString(); m.dataset.members = data.members; }
      } catch (e) {
        status.className = "flash err";
        status.textContent = (e.data && e.data.detail) || e.message;
      } finally {
        buttons.forEach((x) => { x.disabled = false; });
      }
    });
  }
})();
