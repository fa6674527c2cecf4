// Journey graph editor. It edits the journey document (the JSON a YAML file holds) as step
// cards in lanes: the document's flat step list is cut into lanes where a step does not fall
// through to the one after it, and a lane is drawn under the first branch outlet (condition,
// A/B group, event / timeout) that leads to it, side by side with its sibling lanes. Targets
// are held as object references, so renaming or moving a step keeps every jump to it; saving
// flattens the lanes back into steps with explicit `next` only where needed. The server
// validates (POST /console/journeys/graph) and each problem comes back with its path
// (steps[3].send.template), shown on that step's card.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("g-data").textContent);
  const T = data.text, O = data.options;
  const flowEl = document.getElementById("g-flow");
  const msgEl = document.getElementById("g-message");
  const docEl = document.getElementById("g-doc");
  const $ = (id) => document.getElementById(id);
  const BRANCHING = ["branch", "split", "exit"];
  const KINDS = ["send", "wait", "wait_until", "wait_for", "branch", "split", "add_tag", "remove_tag", "set_stage", "webhook", "exit", "set_attribute"];
  const PREFIX = { wait: "wait", wait_until: "day", wait_for: "await", branch: "check", split: "ab", send: "send", add_tag: "tag", remove_tag: "untag", set_stage: "stage", webhook: "hook", exit: "end" };
  const TRIGGERS = ["tag_added", "segment_entered", "event", "stage_changed", "date", "broadcast", "list"];
  const UNITS = [["w", 604800], ["d", 86400], ["h", 3600], ["m", 60]];
  const OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "contains", "is_set", "not_set"];
  const tx = (key, params) => (T[key] || key).replace(/\{(\w+)\}/g, (_, k) => (params && k in params ? params[k] : ""));
  const kindName = (k) => T["graph_kind_" + k] || T.graph_kind_other;
  const stages = O.stages.map((s) => ({ key: s, name: T["contacts_stage_" + s] || s }));
  const clone = (x) => JSON.parse(JSON.stringify(x === undefined ? null : x));
  let doc = {}, main = null, lanes = [], editKey = data.key;

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "value") e.value = v; else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  function select(items, current, blank) {
    const s = el("select");
    if (blank !== undefined) s.append(el("option", { value: "" }, blank));
    for (const it of items) s.append(el("option", { value: it.key, selected: it.key === current, translate: it.raw ? "no" : null }, it.name || it.key));
    if (current && !items.some((it) => it.key === current)) s.append(el("option", { value: current, selected: true }, current));
    return s;
  }
  function field(label, input) { return el("label", {}, label, input); }
  function bind(input, set) {  // a form field: every edit updates the model and re-checks
    input.addEventListener("input", () => { set(input.type === "checkbox" ? input.checked : input.value); changed(false); });
    input.addEventListener("change", () => { set(input.type === "checkbox" ? input.checked : input.value); changed(false); });
    return input;
  }

  // --- durations ("3d", 86400) ----------------------------------------------------------------
  function splitDuration(v) {
    if (typeof v === "number") {
      for (const [u, s] of UNITS) if (v && v % s === 0) return [v / s, u];
      return [v / 60, "m"];
    }
    const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/.exec(String(v || ""));
    if (!m) return [v || "", "d"];
    if (!m[2] || m[2] === "s") return splitDuration(parseFloat(m[1]));
    return [m[1], m[2]];
  }
  function durationInput(value, set) {
    const [n, u] = splitDuration(value);
    const num = el("input", { type: "number", min: "0", step: "any", class: "g-num", value: n, style: "width:5rem" });
    const unit = select(UNITS.map(([k]) => ({ key: k, name: T["graph_unit_" + k] })).reverse(), u);
    unit.className = "g-unit";
    const upd = () => set(num.value === "" ? "" : num.value + unit.value);
    bind(num, upd); bind(unit, upd);
    return el("span", { class: "g-row" }, num, unit);
  }

  // --- loading a document into lanes ------------------------------------------------------------
  const lane = (steps, then, owner) => ({ steps: steps || [], then: then || { t: "exit" }, owner: owner || null });
  function makeStep(s) {
    const kind = Object.keys(s).find((k) => k !== "id" && k !== "next" && s[k] !== null && s[k] !== false) || "wait";
    // hadNext: the document wrote `next` even where it was the following step; kept, so a
    // document saved unchanged reads back identical
    return { id: s.id, kind: kind, v: clone(s[kind]), hadNext: !!s.next };
  }
  function load(d) {
    doc = clone(d || {}) || {};
    const raw = Array.isArray(doc.steps) ? doc.steps.filter((s) => s && typeof s === "object") : [];
    const steps = raw.map(makeStep);
    const byId = new Map(steps.map((s) => [s.id, s]));
    const following = (i) => (i + 1 < raw.length ? raw[i + 1].id : "exit");
    const both = (s) => s.wait_for && s.wait_for.on_event && s.wait_for.on_timeout;
    const through = (s, i) => !BRANCHING.some((k) => s[k]) && !both(s) && !(s.next && s.next !== following(i));
    lanes = [];
    let cur = null;
    raw.forEach((s, i) => {
      if (!cur || !through(raw[i - 1], i - 1)) { cur = lane(); lanes.push(cur); }
      cur.steps.push(steps[i]);
      cur.last = i;
    });
    if (!lanes.length) lanes.push(lane());
    main = lanes[0];
    const tgt = (id) => (id === undefined || id === null ? null : id === "exit" ? { t: "exit" } : byId.has(id) ? { t: "step", step: byId.get(id) } : { t: "raw", id: id });
    for (const l of lanes) {
      const last = raw[l.last];
      l.then = last && last.next && !BRANCHING.some((k) => last[k]) ? tgt(last.next) : { t: "exit" };
    }
    steps.forEach((st, i) => {
      const s = raw[i];
      if (st.kind === "wait_for") {
        st.onEvent = tgt(s.wait_for.on_event) || { t: "after", step: st };
        st.onTimeout = tgt(s.wait_for.on_timeout) || { t: "after", step: st };
        delete st.v.on_event; delete st.v.on_timeout;
      } else if (st.kind === "branch") {
        st.routes = ((s.branch && s.branch.routes) || []).map((r) => ({ when: clone(r.if), target: tgt(r.next) || { t: "exit" } }));
        st.otherwise = tgt(s.branch && s.branch.else) || { t: "exit" };
      } else if (st.kind === "split") {
        st.variants = ((s.split && s.split.variants) || []).map((v) => ({ name: v.name, weight: v.weight, target: tgt(v.next) || { t: "exit" } }));
      }
    });
    const owned = new Set([main]);
    const visit = (l) => {
      for (const st of l.steps) for (const o of outlets(st)) {
        const tg = o.get();
        const target = tg && tg.t === "step" && lanes.find((x) => x.steps[0] === tg.step);
        if (target && !owned.has(target)) { owned.add(target); target.owner = st; o.set({ t: "lane", lane: target }); visit(target); }
      }
    };
    visit(main);
  }

  // --- outlets of branching steps ---------------------------------------------------------------
  function outlets(st) {
    if (st.kind === "wait_for") return [
      { key: "on_event", label: T.graph_on_event, get: () => st.onEvent, set: (t) => { st.onEvent = t; } },
      { key: "on_timeout", label: T.graph_on_timeout, get: () => st.onTimeout, set: (t) => { st.onTimeout = t; } },
    ];
    if (st.kind === "branch") return st.routes.map((r, i) => ({ key: "route-" + i, route: r, label: tx("graph_route", { n: i + 1 }), get: () => r.target, set: (t) => { r.target = t; } }))
      .concat([{ key: "else", label: T.graph_else, get: () => st.otherwise, set: (t) => { st.otherwise = t; } }]);
    if (st.kind === "split") return st.variants.map((v, i) => ({ key: "variant-" + i, variant: v, label: v.name, get: () => v.target, set: (t) => { v.target = t; } }));
    return [];
  }
  const newLane = (owner) => { const l = lane([], { t: "after", step: owner }, owner); lanes.push(l); return { t: "lane", lane: l }; };

  // --- flattening lanes back into the document --------------------------------------------------
  function laneOrder() {
    const seen = new Set();
    const visit = (l) => {
      if (seen.has(l)) return;
      seen.add(l);
      for (const st of l.steps) for (const o of outlets(st)) { const tg = o.get(); if (tg && tg.t === "lane") visit(tg.lane); }
    };
    visit(main);
    // the lanes keep the order they were loaded or made in (a document saved unchanged keeps
    // its step order); a lane no outlet reaches stays while it has steps (shown unconnected)
    lanes = lanes.filter((l) => seen.has(l) || l.steps.length);
    return lanes;
  }
  let flat = [];
  function serialize() {
    const order = laneOrder();
    flat = [];
    for (const l of order) for (const st of l.steps) flat.push({ st: st, lane: l });
    const where = new Map(flat.map((f, i) => [f.st, i]));
    const entry = (l, depth) => (l.steps.length ? l.steps[0].id : resolve(l.then, depth + 1));
    const resolve = (tg, depth) => {
      depth = depth || 0;
      if (!tg || depth > 20 || tg.t === "exit") return "exit";
      if (tg.t === "raw") return tg.id;
      if (tg.t === "lane") return entry(tg.lane, depth);
      if (!where.has(tg.step)) return "exit";  // a removed step
      if (tg.t === "step") return tg.step.id;
      const f = flat[where.get(tg.step)], i = f.lane.steps.indexOf(tg.step);  // "after"
      return i + 1 < f.lane.steps.length ? f.lane.steps[i + 1].id : resolve(f.lane.then, depth + 1);
    };
    const steps = flat.map((f, i) => {
      const st = f.st, o = { id: st.id }, natural = i + 1 < flat.length ? flat[i + 1].st.id : "exit";
      const last = f.lane.steps[f.lane.steps.length - 1] === st;
      if (st.kind === "wait_for") {
        o.wait_for = clone(st.v);
        for (const [k, tg] of [["on_event", st.onEvent], ["on_timeout", st.onTimeout]]) {
          const to = resolve(tg);
          if (to !== natural) o.wait_for[k] = to;
        }
      } else if (st.kind === "branch") {
        o.branch = { routes: st.routes.map((r) => ({ if: clone(r.when), next: resolve(r.target) })), else: resolve(st.otherwise) };
      } else if (st.kind === "split") {
        o.split = { variants: st.variants.map((v) => ({ name: v.name, weight: v.weight, next: resolve(v.target) })) };
      } else {
        o[st.kind] = clone(st.v);
      }
      const waitsBoth = st.kind === "wait_for" && o.wait_for.on_event && o.wait_for.on_timeout;
      if (!BRANCHING.includes(st.kind) && !waitsBoth) {
        const to = last ? resolve(f.lane.then) : natural;
        if (to !== natural || st.hadNext) o.next = to;
      }
      return o;
    });
    const out = Object.assign({}, doc, { key: $("g-key").value.trim(), name: $("g-name").value.trim(), steps: steps });
    return out;
  }

  // --- step cards -------------------------------------------------------------------------------
  function uniqueId(kind) {
    const ids = new Set(lanes.flatMap((l) => l.steps.map((s) => s.id)));
    let n = 1;
    while (ids.has((PREFIX[kind] || "step") + "-" + n)) n++;
    return (PREFIX[kind] || "step") + "-" + n;
  }
  function newStep(kind) {
    const st = { id: uniqueId(kind), kind: kind };
    const defaults = { wait: "1d", wait_until: { day: 1, at: "10:00" }, wait_for: { event: "", timeout: "3d" }, send: { channel: O.channels[0] },
      add_tag: null, remove_tag: null, set_stage: O.stages[0], webhook: { event: "", data: {} }, exit: true, set_attribute: {} };
    st.v = clone(defaults[kind]);
    if (kind === "wait_for") { st.onEvent = { t: "after", step: st }; st.onTimeout = newLane(st); }
    if (kind === "branch") { st.routes = [{ when: { has_tag: null }, target: newLane(st) }]; st.otherwise = { t: "after", step: st }; }
    if (kind === "split") st.variants = [{ name: "A", weight: 50, target: newLane(st) }, { name: "B", weight: 50, target: newLane(st) }];
    return st;
  }
  function allSteps() { return laneOrder().flatMap((l) => l.steps); }
  function targetSelect(tg, owner, allowLane, set) {
    const items = [];
    if (allowLane) items.push({ key: "lane", name: T.graph_target_lane });
    if (owner) items.push({ key: "after", name: T.graph_target_after });
    items.push({ key: "exit", name: T.graph_target_exit });
    // a step's id is the journey's own name for it (data): its option is marked translate="no"
    for (const st of allSteps()) if (st !== owner) items.push({ key: "step:" + st.id, name: tx("graph_target_step", { name: st.id }), st: st, raw: true });
    const cur = !tg ? "exit" : tg.t === "lane" ? "lane" : tg.t === "after" ? "after" : tg.t === "step" ? "step:" + tg.step.id : tg.t === "raw" ? "step:" + tg.id : "exit";
    const s = select(items, cur);
    s.className = "g-target";
    s.addEventListener("change", () => {
      const it = items.find((x) => x.key === s.value);
      set(s.value === "lane" ? newLane(owner) : s.value === "after" ? { t: "after", step: owner } : it && it.st ? { t: "step", step: it.st } : { t: "exit" });
      changed(true);
    });
    return s;
  }
  function conditionEditor(route) {
    const w = route.when || {};
    const kinds = ["has_tag", "segment", "event", "attribute", "stage", "clicked", "json"];
    let kind = kinds.find((k) => k in w && k !== "json") || (w.all || w.any || w.not ? "json" : "has_tag");
    const box = el("span", { class: "g-row g-cond" });
    const kindSel = select(kinds.map((k) => ({ key: k, name: T["graph_cond_" + k] })), kind);
    kindSel.className = "g-cond-kind";
    kindSel.addEventListener("change", () => {
      const blank = { has_tag: { has_tag: null }, segment: { segment: null }, event: { event: { name: "" } }, attribute: { attribute: { property: "", op: "eq", value: "" } }, stage: { stage: O.stages[0] }, clicked: { clicked: true }, json: { all: [] } };
      route.when = blank[kindSel.value];
      changed(true);
    });
    box.append(kindSel);
    if (kind === "has_tag") box.append(bind(el("input", { list: "g-tags", value: w.has_tag || "", class: "g-cond-value" }), (v) => { route.when = { has_tag: v || null }; }));
    if (kind === "segment") box.append(bind(select(O.segments, w.segment || "", T.sop_choose), (v) => { route.when = { segment: v || null }; }));
    if (kind === "stage") box.append(bind(select(stages, w.stage), (v) => { route.when = { stage: v }; }));
    if (kind === "event") {
      const ev = w.event || {};
      box.append(bind(el("input", { list: "g-events", value: ev.name || "", class: "g-cond-value" }), (v) => { ev.name = v; route.when = { event: ev }; }),
        field(T.graph_within, bind(el("input", { value: ev.within || "", size: "5" }), (v) => { if (v) ev.within = v; else delete ev.within; route.when = { event: ev }; })));
    }
    if (kind === "attribute") {
      const a = w.attribute || {};
      const setA = () => { route.when = { attribute: a }; };
      box.append(field(T.graph_property, bind(el("input", { value: a.property || "", size: "8" }), (v) => { a.property = v; setA(); })),
        bind(select(OPS.map((k) => ({ key: k, name: T["graph_op_" + k] })), a.op || "eq"), (v) => { a.op = v; if (v === "is_set" || v === "not_set") delete a.value; setA(); }),
        field(T.graph_value, bind(el("input", { value: a.value === undefined || a.value === null ? "" : a.value, size: "8" }), (v) => { a.value = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v; setA(); })));
    }
    if (kind === "clicked") {
      const sends = allSteps().filter((s) => s.kind === "send").map((s) => ({ key: s.id, name: s.id }));
      const sel = select([{ key: "*", name: T.graph_clicked_any }].concat(sends), w.clicked === true ? "*" : w.clicked);
      box.append(bind(sel, (v) => { route.when = { clicked: v === "*" ? true : v }; }));
    }
    if (kind === "json") box.append(jsonArea(w, (v) => { route.when = v; }));
    return box;
  }
  function jsonArea(value, set) {
    const ta = el("textarea", { class: "g-json", spellcheck: "false" }, JSON.stringify(value, null, 1));
    ta.addEventListener("change", () => { try { set(JSON.parse(ta.value)); ta.setCustomValidity(""); changed(false); } catch (e) { ta.setCustomValidity(T.graph_err_json); ta.reportValidity(); } });
    return ta;
  }
  function body(st) {
    const b = el("div", { class: "g-row g-body" });
    const v = st.v;
    const opt = (obj, k, val) => { if (val === "" || val === null) delete obj[k]; else obj[k] = val; };
    if (st.kind === "wait") b.append(field(T.graph_duration, durationInput(v, (x) => { st.v = x; })));
    if (st.kind === "wait_until") b.append(field(T.graph_day, bind(el("input", { type: "number", min: "0", max: "366", value: v.day, class: "g-day", style: "width:5rem" }), (x) => { v.day = x === "" ? "" : parseInt(x, 10); })),
      field(T.graph_at, bind(el("input", { type: "time", value: v.at || "", class: "g-at" }), (x) => { v.at = x; })));
    if (st.kind === "wait_for") b.append(field(T.graph_event, bind(el("input", { list: "g-events", value: v.event || "", class: "g-event", autocomplete: "off" }), (x) => opt(v, "event", x))),
      field(T.graph_timeout, durationInput(v.timeout, (x) => { v.timeout = x; })));
    if (st.kind === "send") {
      const channels = O.channels.map((c) => ({ key: c, name: T["sop_channel_" + c] || c }));
      const ch = select(channels, v.channel); ch.className = "g-channel";
      const tp = select(O.templates[v.channel] || [], v.template || "", T.sop_choose); tp.className = "g-template";
      ch.addEventListener("change", () => { v.channel = ch.value; delete v.template; changed(true); });
      bind(tp, (x) => opt(v, "template", x));
      b.append(field(T.graph_channel, ch), field(T.graph_template, tp));
    }
    if (st.kind === "add_tag" || st.kind === "remove_tag") b.append(field(T.graph_tag, bind(el("input", { list: "g-tags", value: v || "", class: "g-tag" }), (x) => { st.v = x || null; })));
    if (st.kind === "set_stage") b.append(field(T.graph_stage, bind(select(stages, v), (x) => { st.v = x; })));
    if (st.kind === "webhook") b.append(field(T.graph_webhook_event, bind(el("input", { value: v.event || "" }), (x) => opt(v, "event", x))),
      field(T.graph_webhook_data, jsonArea(v.data || {}, (x) => { v.data = x; })));
    if (st.kind === "exit") b.append(el("span", { class: "muted" }, T.graph_exit_note));
    if (!PREFIX[st.kind]) b.append(el("span", { class: "muted" }, T.graph_other_note), jsonArea(v, (x) => { st.v = x; }));
    if (st.kind === "branch") b.append(el("button", { type: "button", class: "g-add-route" }, T.graph_add_route));
    if (st.kind === "split") b.append(el("button", { type: "button", class: "g-add-variant" }, T.graph_add_variant));
    const addRoute = b.querySelector(".g-add-route"), addVariant = b.querySelector(".g-add-variant");
    if (addRoute) addRoute.addEventListener("click", () => { st.routes.push({ when: { has_tag: null }, target: newLane(st) }); changed(true); });
    if (addVariant) addVariant.addEventListener("click", () => { st.variants.push({ name: String.fromCharCode(65 + st.variants.length), weight: 50, target: newLane(st) }); changed(true); });
    return b;
  }
  function card(st, l) {
    const c = el("div", { class: "g-step", "data-kind": st.kind, "data-id": st.id });
    const id = bind(el("input", { class: "g-id", value: st.id, title: T.graph_step_id, "aria-label": T.graph_step_id, spellcheck: "false" }), (x) => { st.id = x.trim(); c.dataset.id = st.id; });
    const move = (d) => { const i = l.steps.indexOf(st), j = i + d; if (j < 0 || j >= l.steps.length) return; l.steps.splice(i, 1); l.steps.splice(j, 0, st); changed(true); };
    const up = el("button", { type: "button", class: "g-up", title: T.graph_up }, "↑");
    const down = el("button", { type: "button", class: "g-down", title: T.graph_down }, "↓");
    const rm = el("button", { type: "button", class: "g-remove" }, T.graph_remove);
    up.addEventListener("click", () => move(-1));
    down.addEventListener("click", () => move(1));
    rm.addEventListener("click", () => { l.steps.splice(l.steps.indexOf(st), 1); changed(true); });
    c.append(el("div", { class: "g-step-head" }, el("b", {}, kindName(st.kind)), id, up, down, rm), body(st), el("span", { class: "g-err" }));
    const frag = el("div", { class: "g-node" }, c);
    const outs = outlets(st);
    if (outs.length) {
      const row = el("div", { class: "g-lanes" });
      outs.forEach((o, i) => {
        const head = el("div", { class: "g-outlet-head" });
        if (o.variant) {
          head.append(bind(el("input", { value: o.variant.name, class: "g-variant-name", "aria-label": T.graph_variant_name }), (x) => { o.variant.name = x; }),
            field(T.graph_weight, bind(el("input", { type: "number", min: "0", step: "any", value: o.variant.weight, class: "g-weight" }), (x) => { o.variant.weight = x === "" ? "" : Number(x); })));
        } else head.append(o.label);
        if (o.route) head.append(conditionEditor(o.route));
        if ((o.route && st.routes.length > 1) || (o.variant && st.variants.length > 2)) {
          const x = el("button", { type: "button", class: "g-remove-outlet" }, T.graph_remove);
          x.addEventListener("click", () => { if (o.route) st.routes.splice(i, 1); else st.variants.splice(i, 1); changed(true); });
          head.append(x);
        }
        const box = el("div", { class: "g-outlet", "data-outlet": o.key }, head, field(T.graph_target, targetSelect(o.get(), st, true, o.set)));
        const tg = o.get();
        if (tg && tg.t === "lane") box.append(laneEl(tg.lane));
        row.append(box);
      });
      frag.append(row);
    }
    return frag;
  }
  function laneEl(l) {
    const box = el("div", { class: "g-lane" });
    for (const st of l.steps) box.append(card(st, l));
    const kindSel = select(KINDS.map((k) => ({ key: k, name: kindName(k) })), "send");
    kindSel.className = "g-add-kind";
    const add = el("button", { type: "button", class: "g-add" }, T.graph_add_step);
    add.addEventListener("click", () => { l.steps.push(newStep(kindSel.value)); changed(true); });
    const foot = el("div", { class: "g-lane-foot" }, kindSel, add);
    if (l !== main) foot.append(field(T.graph_then, targetSelect(l.then, l.owner, false, (t) => { l.then = t; })));
    box.append(foot);
    return box;
  }

  // --- trigger, goal, exit ----------------------------------------------------------------------
  function triggerFields() {
    const box = $("g-trigger-fields");
    box.replaceChildren();
    const tr = doc.trigger || {};
    const kind = TRIGGERS.find((k) => k in tr) || "tag_added";
    $("g-trigger-kind").value = kind;
    const v = tr[kind];
    const set = (x) => { doc.trigger = { [kind]: x === "" ? null : x }; };
    if (kind === "tag_added") box.append(field(T.graph_tag, bind(el("input", { list: "g-tags", value: v || "", id: "g-trigger-value" }), set)));
    if (kind === "segment_entered") box.append(field(T.graph_segment, bind(select(O.segments, v || "", T.sop_choose), set)));
    if (kind === "stage_changed") box.append(field(T.graph_stage, bind(select(stages, v || O.stages[0]), set)));
    if (kind === "event") { const e = v || {}; box.append(field(T.graph_event, bind(el("input", { list: "g-events", value: e.name || "", id: "g-trigger-value" }), (x) => { e.name = x; set(e); }))); }
    if (kind === "date") {
      const d = v || { attribute: "birthday", at: "10:00" };
      box.append(field(T.graph_date_attribute, bind(el("input", { value: d.attribute || "" }), (x) => { d.attribute = x; set(d); })),
        field(T.graph_at, bind(el("input", { type: "time", value: d.at || "" }), (x) => { d.at = x; set(d); })),
        field(T.graph_days_before, bind(el("input", { type: "number", min: "0", value: d.days_before || 0, style: "width:5rem" }), (x) => { d.days_before = parseInt(x || "0", 10); set(d); })));
    }
    if (kind === "broadcast") {
      const d = v || {};
      box.append(field(T.graph_segment, bind(select(O.segments, d.segment || "", T.sop_choose), (x) => { d.segment = x; set(d); })),
        field(T.graph_broadcast_at, bind(el("input", { type: "datetime-local", value: String(d.at || "").slice(0, 16) }), (x) => { d.at = x; set(d); })),
        field(T.graph_every, bind(select(["once", "day", "week"].map((k) => ({ key: k, name: T["graph_every_" + k] })), d.every || "once"), (x) => { if (x === "once") delete d.every; else d.every = x; set(d); })));
    }
  }
  function settings() {
    $("g-name").value = doc.name || "";
    $("g-key").value = doc.key || "";
    $("g-goal").value = (doc.goal && doc.goal.event) || "";
    const exit = doc.exit || {}, entry = doc.entry || {};
    $("g-exit-goal").checked = exit.on_goal !== false;
    $("g-exit-segment").checked = exit.on_segment_exit !== false;
    $("g-reentry").checked = !!entry.reentry;
    $("g-cooldown").value = entry.cooldown || "";
    triggerFields();
  }
  const kindEl = $("g-trigger-kind");
  for (const k of TRIGGERS) kindEl.append(el("option", { value: k }, T["graph_trigger_" + k]));
  kindEl.addEventListener("change", () => {
    const first = { tag_added: null, segment_entered: null, event: { name: "" }, stage_changed: O.stages[0], date: { attribute: "birthday", at: "10:00" }, broadcast: {}, list: true };
    doc.trigger = { [kindEl.value]: first[kindEl.value] };
    triggerFields(); changed(false);
  });
  bind($("g-goal"), (x) => { if (x) doc.goal = Object.assign({}, doc.goal || {}, { event: x }); else delete doc.goal; });
  const exitSet = () => { doc.exit = { on_goal: $("g-exit-goal").checked, on_segment_exit: $("g-exit-segment").checked }; };
  bind($("g-exit-goal"), exitSet); bind($("g-exit-segment"), exitSet);
  const entrySet = () => { doc.entry = { reentry: $("g-reentry").checked }; if ($("g-cooldown").value) doc.entry.cooldown = $("g-cooldown").value; };
  bind($("g-reentry"), entrySet); bind($("g-cooldown"), entrySet);
  bind($("g-name"), () => {}); bind($("g-key"), () => {});

  // --- rendering, checking, saving --------------------------------------------------------------
  function render() {
    flowEl.replaceChildren(laneEl(main));
    laneOrder();
    const orphans = lanes.filter((l) => l !== main && !isOwned(l));
    if (orphans.length) flowEl.append(el("h3", {}, T.graph_orphans), ...orphans.map(laneEl));
  }
  function isOwned(l) {
    return lanes.some((x) => x.steps.some((st) => outlets(st).some((o) => { const tg = o.get(); return tg && tg.t === "lane" && tg.lane === l; })));
  }
  function changed(structure) {
    if (structure) render();
    if (document.activeElement !== docEl) docEl.value = JSON.stringify(serialize(), null, 2);
    check();
  }
  function clearErrors() {
    document.querySelectorAll(".g-err").forEach((e) => { e.textContent = ""; });
    document.querySelectorAll(".g-bad").forEach((e) => e.classList.remove("g-bad"));
    msgEl.hidden = true;
  }
  function showError(path, message) {
    const m = /^steps\[(\d+)\]/.exec(path);
    let slot = null;
    if (m && flat[+m[1]]) {
      const c = flowEl.querySelector('.g-step[data-id="' + CSS.escape(flat[+m[1]].st.id) + '"]');
      if (c) { c.classList.add("g-bad"); slot = c.querySelector(":scope > .g-err"); }
    } else slot = document.querySelector('.g-err[data-for="' + path.split(/[.[]/)[0] + '"]');
    if (!slot) slot = msgEl;
    slot.hidden = false;
    slot.textContent = (slot.textContent ? slot.textContent + "；" : "") + message;
  }
  async function post(body) {
    const r = await fetch("/console/journeys/graph", {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": data.csrf }, body: JSON.stringify(body),
    });
    return r.json();
  }
  let timer = null, seq = 0;
  function check() {  // inline validation while editing: the server's check, nothing saved
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const d = serialize();
      if (!d.key || !d.name || !d.steps.length) return;
      const mine = ++seq;
      const res = await post({ document: d, key: editKey, check: true });
      if (mine !== seq) return;
      clearErrors();
      if (!res.ok) for (const e of res.errors || []) showError(e.path, e.message);
      else if (res.leaving) { msgEl.hidden = false; msgEl.textContent = tx("sop_leaving", { count: res.leaving }); }
    }, 500);
  }
  async function save(start) {
    clearTimeout(timer); seq++;
    clearErrors();
    msgEl.hidden = false; msgEl.textContent = T.graph_saving;
    let res;
    try {
      res = await post({ document: serialize(), key: editKey, start: start });
    } catch (e) {  // a dropped connection or a page that is not JSON
      res = null;
    }
    if (!res || (!res.ok && !Array.isArray(res.errors))) {  // say so instead of "saving…" for ever
      msgEl.textContent = T.graph_save_failed;
      return;
    }
    if (!res.ok) {
      clearErrors();
      for (const e of res.errors) showError(e.path, e.message);
      msgEl.hidden = false;
      msgEl.textContent = T.sop_invalid;
      return;
    }
    window.location.assign(res.redirect);
  }
  $("g-save").addEventListener("click", () => save(false));
  $("g-save-start").addEventListener("click", () => save(true));
  $("g-doc-apply").addEventListener("click", () => {
    try { load(JSON.parse(docEl.value)); } catch (e) { clearErrors(); showError("journey", T.graph_err_json); return; }
    settings(); render(); check();
  });

  load(data.document || { trigger: { tag_added: null }, steps: [] });
  settings();
  render();
  docEl.value = JSON.stringify(serialize(), null, 2);
})();
