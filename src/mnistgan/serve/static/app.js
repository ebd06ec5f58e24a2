// mnistgan's page: plain JavaScript over the JSON API (/docs), no libraries.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { run: null, info: null, digit: null, game: null, round: null, epochs: [], walkTimer: null };
const randomSeed = () => Math.floor(Math.random() * 2 ** 31);

function toast(message) {
  const el = $("toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 5000);
}

// the token the page was opened with (`mnistgan serve` prints the URL), sent on every API call
const token = new URLSearchParams(location.search).get("token");

// fetch -> JSON or Blob; an error reply's {"error": ...} becomes the thrown message
async function api(path, options = {}, as = "json") {
  const headers = { ...(options.headers || {}), ...(token ? { Authorization: `token ${token}` } : {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return as === "blob" ? response.blob() : response.json();
}

function withRun(path, params = {}) {
  const query = new URLSearchParams({ run: state.run, ...params });
  for (const [key, value] of [...query]) if (value === "" || value === "null") query.delete(key);
  return `${path}?${query}`;
}

async function showImage(img, path) {
  const blob = await api(path, {}, "blob");
  const old = img.src;
  const loaded = new Promise((resolve) => { img.onload = resolve; });  // before src: a quick load is not missed
  img.src = URL.createObjectURL(blob);
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  return loaded;
}

function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "—";
  return Number(value).toPrecision(digits).replace(/\.?0+$/, "");
}

// ---------------------------------------------------------------- runs and info

async function loadRuns() {
  const { runs, default: fallback } = await api("/api/runs");
  const wanted = new URLSearchParams(location.search).get("run");
  const names = runs.map((r) => r.name);
  const select = $("run-select");
  select.innerHTML = "";
  for (const r of runs) {
    const option = new Option(`${r.name} · ${r.preset ?? "?"} · ${r.epochs ?? "?"} ep · ${r.fid_label} ${fmt(r.fid)}`, r.name);
    select.add(option);
  }
  const body = $("runs-body");
  body.innerHTML = "";
  for (const r of runs) {
    const row = body.insertRow();
    row.dataset.run = r.name;
    for (const text of [r.name, r.preset ?? "?", r.epochs ?? "?",
      r.fid === null ? "—" : `${fmt(r.fid)}${r.fid_floor ? ` (floor ${fmt(r.fid_floor)})` : ""}`]) {
      row.insertCell().textContent = text;
    }
    row.title = r.fid_from ? `${r.fid_label} from the ${r.fid_from}` : `no ${r.fid_label} recorded (no readable metrics.json, no light-evaluation best)`;
    row.addEventListener("click", () => setRun(r.name));
  }
  await setRun(names.includes(wanted) ? wanted : fallback);
}

async function setRun(name) {
  state.run = name;
  $("run-select").value = name;
  for (const row of $("runs-body").rows) row.classList.toggle("current", row.dataset.run === name);
  history.replaceState(null, "", `?${new URLSearchParams({ ...(token ? { token } : {}), run: name })}`);
  $("run-info").textContent = "loading…";
  const info = await api(withRun("/api/info"));
  state.info = info;
  state.digit = null;
  state.game = null;
  for (const [id, text] of [["score-person", "0/0"], ["score-d", "0/0"], ["pct-person", ""], ["pct-d", ""]]) $(id).textContent = text;
  const fid = info.fid === null ? `no ${info.fid_label} recorded` : `${info.fid_label} ${fmt(info.fid)}${info.fid_floor ? ` (real floor ${fmt(info.fid_floor)})` : ""} · ${info.fid_from}`;
  $("run-info").textContent = `${info.preset} · ${info.arch} · ${info.conditional ? "conditional" : "unconditional"} · ` +
    `${info.epochs ?? "?"} epochs · generator of epoch ${info.generator_epoch ?? "?"}${info.ema ? " (EMA)" : ""} · ${fid}`;
  setupDigits();
  await Promise.all([drawSamples(), walk(), newRound(), loadRunReport(), clearPad()]);
}

// ---------------------------------------------------------------- samples and digits

async function drawSamples() {
  const seed = $("seed").value.trim() || "0";
  const n = $("count").value;
  await showImage($("grid"), withRun("/api/sample", { n, seed, digit: state.digit ?? "" }));
  $("grid").dataset.seed = seed;
  $("grid-caption").textContent = `${n} samples · seed ${seed}` +
    (state.digit !== null ? ` · only ${state.info.classes[state.digit]}s` : "") +
    " · the same seed gives the same digits";
}

function setupDigits() {
  const row = $("digit-buttons");
  row.innerHTML = "";
  const classes = state.info.conditional ? state.info.classes : [...Array(10).keys()].map(String);
  classes.forEach((label, digit) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label.length > 2 ? label.slice(0, 7) : label;
    b.title = label;
    b.dataset.digit = digit;
    b.disabled = !state.info.conditional;
    b.addEventListener("click", () => {
      state.digit = state.digit === digit ? null : digit;  // a second press goes back to every class
      for (const other of row.children) other.classList.toggle("on", Number(other.dataset.digit) === state.digit);
      run(drawSamples);
      run(walk);
    });
    row.appendChild(b);
  });
  const reason = $("digits-reason");
  reason.hidden = state.info.conditional;
  reason.textContent = "This model is unconditional: it draws every class at random and cannot be asked for one " +
    "(train a conditional preset, e.g. mnistgan train --preset best).";
}

// ---------------------------------------------------------------- latent walk

async function walk() {
  const steps = Math.min(64, Math.max(2, Number($("steps").value) || 12));
  $("steps").value = steps;
  const strip = $("walk-strip");
  await showImage(strip, withRun("/api/interpolate", {
    seed_a: $("seed-a").value.trim() || "0", seed_b: $("seed-b").value.trim() || "1", steps,
    digit: state.digit ?? "",
  }));
  animate(strip, steps);
  const digit = state.info.conditional ? ` · all ${state.info.classes[state.digit ?? 0]}s` +
    (state.digit === null ? " (press a digit above for another class)" : "") : "";
  $("walk-caption").textContent = `${steps} frames from seed ${$("seed-a").value} to seed ${$("seed-b").value}${digit}`;
}

function animate(strip, steps) {
  // the strip is one row of 28x28 tiles with 2-pixel gaps (mnistgan.images.make_grid)
  clearInterval(state.walkTimer);
  const ctx = $("walk-anim").getContext("2d");
  ctx.imageSmoothingEnabled = false;
  let frame = 0, direction = 1;
  state.walkTimer = setInterval(() => {
    ctx.drawImage(strip, 2 + frame * 30, 2, 28, 28, 0, 0, 168, 168);
    if (frame + direction < 0 || frame + direction >= steps) direction = -direction;
    frame += direction;
  }, 110);
}

// ---------------------------------------------------------------- real or fake?

async function newRound() {
  const round = await api(withRun("/api/game/round", { game: state.game ?? "" }));
  state.game = round.game;
  state.round = round.round;
  $("game-image").src = round.image;
  $("game-result").textContent = "Real test digit, or drawn by the generator?";
  for (const id of ["guess-real", "guess-fake"]) $(id).disabled = false;
  $("next-round").classList.remove("primary");
}

async function guess(choice) {
  for (const id of ["guess-real", "guess-fake"]) $(id).disabled = true;
  const r = await api("/api/game/guess", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ game: state.game, round: state.round, guess: choice }),
  });
  const you = r.correct ? '<span class="good">You were right</span>' : '<span class="bad">You were wrong</span>';
  const what = r.truth === "real" ? `a real test ${r.label ?? "digit"}` : `generated${r.label !== null ? ` (asked for a ${r.label})` : ""}`;
  let d = `D: ${state.info.d_missing ?? "no verdict"}.`;
  if (r.d) {
    d = `D said <b>${r.d.verdict}</b> (${state.info.d_score.name} ${fmt(r.d.score)}, threshold ${state.info.d_score.threshold}): ` +
      (r.d.correct ? '<span class="good">right</span>' : '<span class="bad">wrong</span>') + ".";
  }
  $("game-result").innerHTML = `${you}: it was ${what}. ${d}`;
  const s = r.score;
  const pct = (v) => (v === null ? "" : `${Math.round(v * 100)}%`);
  $("score-person").textContent = `${s.person}/${s.rounds}`;
  $("pct-person").textContent = pct(s.person_accuracy);
  $("score-d").textContent = r.d ? `${s.d}/${s.d_rounds}` : "no D";
  $("pct-d").textContent = pct(s.d_accuracy);
  $("next-round").classList.add("primary");
}

// ---------------------------------------------------------------- judge my drawing

const pad = $("pad");
const padCtx = pad.getContext("2d", { willReadFrequently: true });

// A drawing is grey: a run whose images have other channels (Stacked MNIST: 3) cannot judge it.
const canJudge = () => (state.info?.img_channels ?? 1) === 1;

function clearPad() {
  padCtx.fillStyle = "#000";
  padCtx.fillRect(0, 0, pad.width, pad.height);
  $("judge-btn").disabled = !canJudge();
  pad.classList.toggle("off", !canJudge());
  $("judge-verdict").textContent = canJudge() ? "Draw a digit, then press Judge." :
    `A drawing has 1 channel and this run draws ${state.info.img_channels}-channel images: it cannot judge drawings.`;
  $("judge-probs").innerHTML = "";
  $("judge-seen").removeAttribute("src");
}

function setupPad() {
  let last = null;
  const point = (e) => {
    const box = pad.getBoundingClientRect();
    return [(e.clientX - box.left) * pad.width / box.width, (e.clientY - box.top) * pad.height / box.height];
  };
  pad.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    if (!canJudge()) return;
    try { pad.setPointerCapture(e.pointerId); } catch (err) { /* a pointer the browser no longer tracks */ }
    last = point(e);
    stroke(last, last);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = point(e);
    stroke(last, p);
    last = p;
  });
  const end = () => { if (last) { last = null; if (canJudge()) run(judgeDrawing); } };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
}

function stroke(a, b) {
  padCtx.strokeStyle = "#fff";
  padCtx.lineWidth = pad.width / 12;  // about MNIST's pen width once shrunk to 20x20
  padCtx.lineCap = "round";
  padCtx.lineJoin = "round";
  padCtx.beginPath();
  padCtx.moveTo(...a);
  padCtx.lineTo(...b);
  padCtx.stroke();
}

// The pad -> 784 values, as MNIST was made: the ink's bounding box fitted to 20x20 (aspect
// kept, smoothed by halving steps), placed in 28x28 with its centre of mass at the centre.
// The server does the same again (an image already in this form is left as it is).
function padToMnist() {
  const { width: w, height: h } = pad;
  const data = padCtx.getImageData(0, 0, w, h).data;
  let [x0, y0, x1, y1] = [w, h, -1, -1];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if (data[(y * w + x) * 4] > 32) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  }
  if (x1 < 0) return null;
  const [bw, bh] = [x1 - x0 + 1, y1 - y0 + 1];
  const scale = 20 / Math.max(bw, bh);
  const [tw, th] = [Math.max(1, Math.round(bw * scale)), Math.max(1, Math.round(bh * scale))];
  let src = pad, [sx, sy, sw, sh] = [x0, y0, bw, bh];
  while (sw / 2 > tw && sh / 2 > th) {  // halve until one last smoothed step remains
    const half = document.createElement("canvas");
    [half.width, half.height] = [Math.ceil(sw / 2), Math.ceil(sh / 2)];
    half.getContext("2d").drawImage(src, sx, sy, sw, sh, 0, 0, half.width, half.height);
    [src, sx, sy, sw, sh] = [half, 0, 0, half.width, half.height];
  }
  const small = document.createElement("canvas");
  [small.width, small.height] = [tw, th];
  const sctx = small.getContext("2d");
  sctx.imageSmoothingQuality = "high";
  sctx.drawImage(src, sx, sy, sw, sh, 0, 0, tw, th);
  const ink = sctx.getImageData(0, 0, tw, th).data;
  let [mass, cx, cy] = [0, 0, 0];
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) {
    const v = ink[(y * tw + x) * 4]; mass += v; cx += v * x; cy += v * y;
  }
  const left = Math.min(28 - tw, Math.max(0, Math.round(14 - cx / mass)));
  const top = Math.min(28 - th, Math.max(0, Math.round(14 - cy / mass)));
  const pixels = new Array(784).fill(0);
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) pixels[(top + y) * 28 + left + x] = ink[(y * tw + x) * 4];
  return pixels;
}

async function judgeDrawing() {
  const pixels = padToMnist();
  if (!pixels) { $("judge-verdict").textContent = "The pad is empty: draw a digit first."; return; }
  const r = await api(withRun("/api/judge"), {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ pixels }),
  });
  $("judge-seen").src = r.image;
  const parts = [];
  if (r.d) {
    const as = r.d_label !== null ? ` as a ${r.classes[r.d_label]}` : "";
    parts.push(`D judges it${as}: <b>${r.d.verdict}</b> (${state.info.d_score.name} ${fmt(r.d.score)}, threshold ${state.info.d_score.threshold}).`);
  } else {
    parts.push(r.d_missing);
  }
  if (r.probabilities) {
    const best = r.probabilities.indexOf(Math.max(...r.probabilities));
    parts.push(`The evaluator reads a <b>${r.classes[best]}</b> (${Math.round(r.probabilities[best] * 100)}%).`);
  } else {
    parts.push(r.evaluator_missing);
  }
  $("judge-verdict").innerHTML = parts.join(" ");
  const probs = $("judge-probs");
  probs.innerHTML = "";
  (r.probabilities || []).forEach((p, i) => {
    const name = document.createElement("span");
    name.textContent = r.classes[i].slice(0, 3);
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.innerHTML = `<span style="width:${(p * 100).toFixed(1)}%"></span>`;
    const value = document.createElement("span");
    value.textContent = `${(p * 100).toFixed(1)}%`;
    probs.append(name, bar, value);
  });
}

// ---------------------------------------------------------------- the run

async function loadRunReport() {
  const r = await api(withRun("/api/run/sections"));
  state.epochs = r.epochs;
  const slider = $("epoch-slider");
  slider.max = Math.max(0, r.epochs.length - 1);
  slider.value = slider.max;
  slider.disabled = r.epochs.length === 0;
  await showEpoch();
  $("report").innerHTML = Object.values(r.sections).join("\n");  // HTML from the report's own sections
}

async function showEpoch() {
  if (!state.epochs.length) { $("epoch-label").textContent = "no grids in samples/"; return; }
  const epoch = state.epochs[Number($("epoch-slider").value)];
  $("epoch-label").textContent = `${epoch} of ${state.epochs[state.epochs.length - 1]}`;
  await showImage($("epoch-grid"), withRun("/api/run/grid", { epoch }));
}

// ---------------------------------------------------------------- wiring

function run(fn, ...args) {  // a handler's failure is shown, never left as an uncaught rejection
  return Promise.resolve().then(() => fn(...args)).catch((e) => toast(e.message));
}

$("new-btn").addEventListener("click", () => { $("seed").value = randomSeed(); run(drawSamples); });
$("again-btn").addEventListener("click", () => run(drawSamples));
$("seed").addEventListener("change", () => run(drawSamples));
$("count").addEventListener("change", () => run(drawSamples));
$("walk-btn").addEventListener("click", () => run(walk));
$("walk-random").addEventListener("click", () => { $("seed-a").value = randomSeed(); $("seed-b").value = randomSeed(); run(walk); });
$("guess-real").addEventListener("click", () => run(guess, "real"));
$("guess-fake").addEventListener("click", () => run(guess, "fake"));
$("next-round").addEventListener("click", () => run(newRound));
$("judge-btn").addEventListener("click", () => run(judgeDrawing));
$("clear-btn").addEventListener("click", clearPad);
$("run-select").addEventListener("change", (e) => run(setRun, e.target.value));
$("epoch-slider").addEventListener("input", () => run(showEpoch));
setupPad();
clearPad();
run(loadRuns);
