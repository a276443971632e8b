// seq2latex demo page: draw or upload -> POST /solve; edit the LaTeX -> POST /solve {latex};
// Symbol mode: one drawn symbol -> POST /symbol, its top-5 as bars. "Check my working": check.js.
// No external scripts; formulas arrive as (server-sanitised) MathML, which browsers render natively: the
// reading, its alternatives (a pupil picks a formula, not a LaTeX string), the answer and the steps.
"use strict";

const RESOLVE_DELAY_MS = 450;
const BEAM = 3; // image requests ask for the top alternatives
const HINT_MARGIN_PX = 12;
const PEN_WIDTH = 4;
const $ = (id) => document.getElementById(id);

const TEXT = {
  en: {
    tagline: "Write or photograph a formula — get its LaTeX and the solution.", language: "Language",
    draw: "Draw", photo: "Photo", clear: "Clear", undo: "Undo", recognize: "Recognize & solve",
    choose: "Choose or take a photo of a handwritten formula", start: "Draw a formula or upload a photo.",
    whatWasRead: "what was read",
    formula: "Formula", latexLabel: "Formula (LaTeX)", latexHint: "(edit to correct it — the solution updates)",
    solution: "Solution", timingsSummary: "How long it took",
    docs: "API documentation", recognizing: "Recognizing…", solving: "Solving…",
    recognized: "Recognized — edit the LaTeX below if something is wrong.", solved: "Solved.",
    unreachable: "The server could not be reached.", confidence: "Confidence", alternatives: "Alternatives:",
    busyRetry: "The server is busy — trying again in {s} s…",
    drawFirst: "Draw a formula first.", canvasHint: "Write a formula here with your mouse, pen or finger",
    model: "Model", notReady: "The model is not ready.", steps: "Steps",
    decimalComma: "Write {n} (with a decimal point) or switch to Nederlands.",
    symbol: "Symbol", classify: "Which symbol?", symbolHint: "Write one symbol here",
    drawSymbolFirst: "Draw a symbol first.", classifying: "Classifying…",
    severalSymbols: "That looks like several symbols — draw just one (the Draw tab reads a whole formula).",
    calibrated: "Probabilities calibrated on held-out writers (temperature {t}).",
    uncalibrated: "Probabilities of the model as it is (not calibrated).",
    confirmQuestion: "Is this what you wrote?", confirmYes: "Yes, solve this",
    confirmWhy: "The model is not sure (confidence {p}%): readings this unsure are more often wrong than right. "
      + "Pick what you wrote, correct the LaTeX above, or confirm it.",
    confirmStatus: "Check the reading first — then you get the solution.",
    score: "score", preprocess: "preprocess", recognizeMs: "recognize", solveMs: "solve", total: "total",
  },
  nl: {
    tagline: "Schrijf of fotografeer een formule — krijg de LaTeX en de oplossing.", language: "Taal",
    draw: "Tekenen", photo: "Foto", clear: "Wissen", undo: "Ongedaan maken", recognize: "Herken & los op",
    choose: "Kies of maak een foto van een handgeschreven formule", start: "Teken een formule of upload een foto.",
    whatWasRead: "wat er gelezen is",
    formula: "Formule", latexLabel: "Formule (LaTeX)", latexHint: "(pas aan om te verbeteren — de oplossing volgt)",
    solution: "Oplossing", timingsSummary: "Hoe lang het duurde",
    docs: "API-documentatie", recognizing: "Herkennen…", solving: "Oplossen…",
    recognized: "Herkend — pas de LaTeX hieronder aan als er iets niet klopt.", solved: "Opgelost.",
    unreachable: "De server is niet bereikbaar.", confidence: "Zekerheid", alternatives: "Alternatieven:",
    busyRetry: "De server is bezet — ik probeer het over {s} s opnieuw…",
    drawFirst: "Teken eerst een formule.", canvasHint: "Schrijf hier een formule met muis, pen of vinger",
    model: "Model", notReady: "Het model is nog niet klaar.", steps: "Stappen",
    decimalComma: "Schrijf {n} (met een decimale punt).",
    symbol: "Symbool", classify: "Welk symbool?", symbolHint: "Schrijf hier één symbool",
    drawSymbolFirst: "Teken eerst een symbool.", classifying: "Herkennen…",
    severalSymbols: "Dat lijken meerdere symbolen — teken er één (het tabblad Tekenen leest een hele formule).",
    calibrated: "Kansen gekalibreerd op andere schrijvers (temperatuur {t}).",
    uncalibrated: "Kansen van het model zoals het is (niet gekalibreerd).",
    confirmQuestion: "Is dit wat je schreef?", confirmYes: "Ja, los dit op",
    confirmWhy: "Het model twijfelt (zekerheid {p}%): zo'n onzekere lezing is vaker fout dan goed. "
      + "Kies wat je schreef, verbeter de LaTeX hierboven of bevestig hem.",
    confirmStatus: "Controleer eerst wat er gelezen is — dan krijg je de oplossing.",
    score: "score", preprocess: "voorbewerken", recognizeMs: "herkennen", solveMs: "oplossen", total: "totaal",
  },
};
const t = (key) => (TEXT[$("lang").value] || TEXT.en)[key] || TEXT.en[key];
// every request says the page's language, also in the query string: errors found before the body is read
// (an upload over the size limit) come in that language too
const withLang = (path) => path + "?lang=" + encodeURIComponent($("lang").value);

let requestSeq = 0;
let pending = null; // a doubtful reading (needs_confirmation) whose solution waits for the writer's yes
let redrawCanvas = () => {};
let resolveTimer = null;
const strokes = [];

function apiHeaders(extra) {
  const headers = Object.assign({}, extra || {});
  const key = $("api-key").value.trim();
  if (key) headers["X-API-Key"] = key;
  return headers;
}

function setStatus(text, busy) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("busy", !!busy);
}

function showError(message) {
  const el = $("error");
  if (message) { el.textContent = message; el.hidden = false; } else { el.textContent = ""; el.hidden = true; }
}

function setMath(el, mathml, fallback) {
  el.replaceChildren();
  if (mathml) {
    el.innerHTML = mathml; // sanitised MathML from the server (see api/mathml.py)
  } else if (fallback) {
    const code = document.createElement("code");
    code.textContent = fallback;
    el.appendChild(code);
  } else {
    const span = document.createElement("span");
    span.className = "placeholder";
    span.textContent = "—";
    el.appendChild(span);
  }
}

// the solver's API wording for a decimal comma, as a student needs it
function friendlyMessage(code, message, latex) {
  if (code !== "decimal_comma") return message;
  const m = /(\d+)\s*(?:\{\s*,\s*\}|,)\s*(\d+)/.exec(latex || "");
  return t("decimalComma").replace("{n}", m ? m[1] + "." + m[2] : "2.25");
}

// results that no longer belong to the current input go; keepLatex: the LaTeX box is that input
function clearResults(keepLatex) {
  hideConfirmation();
  if (!keepLatex) $("latex-input").value = "";
  setMath($("formula"), null, "");
  $("confidence").textContent = "";
  $("alternatives").replaceChildren();
  $("solution-message").replaceChildren();
  $("solution-message").className = "message";
  setMath($("solution-formula"), null, "");
  $("solution-formula").replaceChildren();
  showSteps(null, null);
  $("timings").textContent = "";
  $("timings-box").hidden = true;
}

// A reading to pick: a button showing the rendered formula (its LaTeX as the fallback and the tooltip);
// the LaTeX it stands for is in data-latex
function formulaChip(latex, mathml, title) {
  const chip = document.createElement("button");
  chip.type = "button";
  chip.className = "chip";
  chip.dataset.latex = latex;
  chip.title = title || latex;
  chip.setAttribute("aria-label", latex);
  setMath(chip, mathml, latex);
  return chip;
}

function showSolution(data) {
  const sol = data.solution || {};
  const msg = $("solution-message");
  msg.textContent = friendlyMessage(sol.error_code, sol.message, data.latex) || (sol.kind ? sol.kind : "");
  msg.className = "message " + (sol.kind === "error" ? "fail" : "ok");
  setMath($("solution-formula"), data.solution_mathml, sol.result_latex || "");
  showSteps(sol.steps, data.steps_mathml);
}

// Steps under the answer: one rendered formula per line, its explanation beside it.
function showSteps(steps, mathml) {
  const list = $("steps");
  list.replaceChildren();
  const has = Array.isArray(steps) && steps.length > 0;
  $("steps-box").hidden = !has;
  if (!has) return;
  steps.forEach((step, i) => {
    const item = document.createElement("li");
    item.className = "step" + (step.aside ? " aside" : "");
    const math = document.createElement("div");
    math.className = "step-math";
    setMath(math, mathml && mathml[i], step.latex);
    const text = document.createElement("div");
    text.className = "step-explanation";
    text.textContent = step.explanation;
    item.append(math, text);
    list.appendChild(item);
  });
}

// "Is this what you wrote?": the reading and its alternatives to pick, the LaTeX box to correct, a yes
// button; the solution stays hidden until one of them is chosen
function askConfirmation(data) {
  pending = Object.assign({ lang: $("lang").value }, data);
  $("solution-area").hidden = true;
  $("confirm-box").hidden = false;
  $("confirm-why").textContent = t("confirmWhy").replace("{p}", String(Math.round(100 * data.confidence)));
  const box = $("confirm-choices");
  box.replaceChildren();
  const reading = data.latex_typed || data.latex;
  const seen = new Set();
  const first = { latex: data.latex, latex_typed: reading, mathml: data.mathml };
  for (const alt of [first].concat(data.alternatives || []).slice(0, 5)) {
    const typed = alt.latex_typed || alt.latex;
    if (seen.has(typed)) continue;
    seen.add(typed);
    const chip = formulaChip(typed, alt.mathml);
    chip.addEventListener("click", () => {
      if (typed === reading) { confirmReading(); return; }
      $("latex-input").value = typed;
      solveLatex();
    });
    box.appendChild(chip);
  }
}

function hideConfirmation() {
  pending = null;
  $("confirm-box").hidden = true;
  $("solution-area").hidden = false;
}

// the writer says the reading is right: show the solution computed with it (or solve it again in the
// page's new language)
function confirmReading() {
  const data = pending;
  if (!data) return;
  if (data.lang !== $("lang").value || $("latex-input").value !== (data.latex_typed || data.latex)) {
    solveLatex();
    return;
  }
  hideConfirmation();
  setStatus(t("solved"), false);
  showSolution(data);
}

function showAlternatives(data) {
  const box = $("alternatives");
  box.replaceChildren();
  const alts = (data.alternatives || []).filter((a) => a.latex !== data.latex);
  alts.forEach((a) => { a.typed = a.latex_typed || a.latex; });
  if (!alts.length) return;
  box.appendChild(document.createTextNode(t("alternatives")));
  for (const alt of alts.slice(0, 4)) {
    const chip = formulaChip(alt.typed, alt.mathml, alt.typed + " · " + t("score") + " " + alt.score.toFixed(3));
    chip.addEventListener("click", () => { $("latex-input").value = alt.typed; solveLatex(); });
    box.appendChild(chip);
  }
}

const TIMING_LABELS = { preprocess: "preprocess", recognize: "recognizeMs", solve: "solveMs", total: "total" };

function showTimings(data) {
  const ms = data.timings_ms || {};
  const parts = Object.keys(TIMING_LABELS)
    .filter((k) => typeof ms[k] === "number" && (ms[k] > 0 || k === "total"))
    .map((k) => t(TIMING_LABELS[k]) + " " + ms[k].toFixed(0) + " ms");
  $("timings").textContent = parts.join(" · ");
  $("timings-box").hidden = !parts.length; // out of the way: a closed "How long it took"
}

// The small "what was read" thumbnail beside the photo: the model's input (lines removed, cropped, scaled)
function showModelInput(uri) {
  const ok = typeof uri === "string" && uri.startsWith("data:image/png;base64,");
  if (ok) $("model-input").src = uri;
  else $("model-input").removeAttribute("src");
  $("model-view").hidden = !ok || $("preview").hidden;
}

// Over the photo: the sheet found (blue), the lines of writing (dashed) and the writing read (green);
// `page` of the response holds them as (x, y) fractions of the image
// A box on a photo's overlay (an <svg> with viewBox 0 0 1 1 over the picture): four (x, y) fractions
function drawQuad(svg, pts, cls) {
  if (!Array.isArray(pts) || pts.length !== 4) return;
  const p = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
  p.setAttribute("points", pts.map((xy) => xy[0] + "," + xy[1]).join(" "));
  p.setAttribute("class", cls);
  svg.appendChild(p);
}

function showPage(page) {
  const svg = $("page-overlay");
  svg.replaceChildren();
  const quad = (pts, cls) => drawQuad(svg, pts, cls);
  if (page) {
    quad(page.sheet, "sheet");
    (page.lines || []).forEach((box, i) => { if (i + 1 !== page.line) quad(box, "line"); });
    quad(page.writing, "writing");
  }
  // an <svg> has no `hidden` property (HTMLElement's): set the attribute itself
  svg.toggleAttribute("hidden", !svg.childElementCount || $("preview").hidden);
}

const BUSY_RETRIES = 5; // a busy server (503 overloaded) is asked again after its Retry-After, this often

async function postSolve(body, headers, fromImage, attempt = 0) {
  const seq = ++requestSeq;
  setStatus(fromImage ? t("recognizing") : t("solving"), true);
  showError("");
  if (fromImage) { clearResults(false); showModelInput(null); showPage(null); }
  let resp, data;
  try {
    resp = await fetch(withLang("/solve"), { method: "POST", body: body, headers: apiHeaders(headers) });
    data = await resp.json();
  } catch (err) {
    console.warn(err); // the browser's own words are English: the page says it in its language
    if (seq === requestSeq) { setStatus("", false); showError(t("unreachable")); }
    return;
  }
  if (seq !== requestSeq) return; // a newer request superseded this one
  if (resp.status === 503 && ((data && data.error) || {}).code === "overloaded" && attempt < BUSY_RETRIES) {
    // a class pressing the button together: wait as long as the server asks, say so, and ask again
    const wait = Math.min(30, Math.max(1, parseInt(resp.headers.get("Retry-After") || "1", 10) || 1));
    setStatus(t("busyRetry").replace("{s}", String(wait)), true);
    await new Promise((resolve) => setTimeout(resolve, 1000 * wait));
    if (seq !== requestSeq) return; // the user sent something else meanwhile
    return postSolve(body, headers, fromImage, attempt + 1);
  }
  if (!resp.ok) {
    setStatus("", false);
    clearResults(!fromImage);
    if (fromImage) $("preview").hidden = true;
    const error = (data && data.error) || {};
    const latex = fromImage ? "" : $("latex-input").value;
    showError(friendlyMessage(error.code, error.message, latex) || ("HTTP " + resp.status));
    return;
  }
  setStatus(fromImage ? t("recognized") : t("solved"), false);
  if (fromImage) {
    showModelInput(data.model_input);
    showPage(data.page);
    $("latex-input").value = data.latex_typed || data.latex;
    $("confidence").textContent = t("confidence") + " " + Math.round(100 * data.confidence) + "%";
  }
  setMath($("formula"), data.mathml, data.latex);
  showTimings(data);
  if (fromImage && data.needs_confirmation) {
    setStatus(t("confirmStatus"), false);
    askConfirmation(data);
    return;
  }
  if (fromImage) showAlternatives(data);
  showSolution(data);
}

function solveImage(blob, filename) {
  const form = new FormData();
  form.append("file", blob, filename);
  form.append("lang", $("lang").value);
  form.append("beam", String(BEAM));
  form.append("steps", "true");
  return postSolve(form, {}, true);
}

// The pad's strokes as the API's ink: [[[x, y], ...], ...] in CSS pixels (the server draws them itself,
// at the scale of the images the model reads, so the pad's size and pen do not matter).
function inkOf(strokes) {
  return strokes.map((s) => s.map((p) => [Math.round(p.x * 100) / 100, Math.round(p.y * 100) / 100]));
}

function solveInk(strokes) {
  const body = { strokes: inkOf(strokes), lang: $("lang").value, beam: BEAM, steps: true };
  return postSolve(JSON.stringify(body), { "Content-Type": "application/json" }, true);
}

function solveLatex() {
  clearTimeout(resolveTimer);
  const latex = $("latex-input").value;
  if (!latex.trim()) return;
  hideConfirmation(); // typed or picked LaTeX is the writer's own word
  $("confidence").textContent = "";
  $("alternatives").replaceChildren();
  return postSolve(JSON.stringify({ latex: latex, lang: $("lang").value, steps: true }), { "Content-Type": "application/json" }, false);
}

// ---------------------------------------------------------------- drawing pads (Draw and Symbol)
function fitPad(canvas, ctx) {
  const ratio = window.devicePixelRatio || 1;
  const rect = canvas.getBoundingClientRect();
  canvas.width = Math.max(1, Math.round(rect.width * ratio));
  canvas.height = Math.max(1, Math.round(rect.height * ratio));
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
}

// A small pad (Symbol, Check my working) drawn again: its strokes, or the hint while it is empty
function redrawPad(canvas, ctx, marks, hint) {
  clearPad(canvas, ctx);
  if (!marks.length) {
    ctx.fillStyle = "#b8c0cc";
    ctx.textAlign = "center";
    ctx.font = "14px system-ui, sans-serif";
    ctx.fillText(hint, canvas.clientWidth / 2, canvas.clientHeight / 2, canvas.clientWidth - 2 * HINT_MARGIN_PX);
  }
  drawStrokes(ctx, marks);
}

function clearPad(canvas, ctx) {
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.restore();
}

function drawStrokes(ctx, strokes) {
  ctx.strokeStyle = "#111827";
  ctx.lineWidth = PEN_WIDTH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of strokes) {
    ctx.beginPath();
    ctx.moveTo(s[0].x, s[0].y);
    if (s.length === 1) ctx.lineTo(s[0].x + 0.1, s[0].y);
    for (const p of s.slice(1)) ctx.lineTo(p.x, p.y);
    ctx.stroke();
  }
}

// Pointer input: each press starts a stroke in `strokes`, each move extends it; `redraw` repaints.
function attachPen(canvas, strokes, redraw) {
  let drawing = null;
  const point = (ev) => {
    const rect = canvas.getBoundingClientRect();
    return { x: ev.clientX - rect.left, y: ev.clientY - rect.top };
  };
  canvas.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    canvas.setPointerCapture(ev.pointerId);
    drawing = [point(ev)];
    strokes.push(drawing);
    redraw();
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drawing) return;
    drawing.push(point(ev));
    redraw();
  });
  const end = () => { drawing = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

function setupCanvas() {
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");

  function resize() {
    fitPad(canvas, ctx);
    redraw();
  }

  function redraw() {
    clearPad(canvas, ctx);
    if (!strokes.length) {
      ctx.fillStyle = "#b8c0cc";
      ctx.textAlign = "center";
      const hint = t("canvasHint");
      let size = 16; // shrink the hint until it fits a narrow (phone) canvas
      ctx.font = size + "px system-ui, sans-serif";
      while (size > 9 && ctx.measureText(hint).width > canvas.clientWidth - 2 * HINT_MARGIN_PX) {
        size -= 1;
        ctx.font = size + "px system-ui, sans-serif";
      }
      ctx.fillText(hint, canvas.clientWidth / 2, canvas.clientHeight / 2, canvas.clientWidth - 2 * HINT_MARGIN_PX);
    }
    drawStrokes(ctx, strokes);
  }

  attachPen(canvas, strokes, redraw);
  $("clear-btn").addEventListener("click", () => { strokes.length = 0; redraw(); });
  $("undo-btn").addEventListener("click", () => { strokes.pop(); redraw(); });
  $("recognize-btn").addEventListener("click", () => {
    if (!strokes.length) { showError(t("drawFirst")); return; }
    solveInk(strokes);
  });
  window.addEventListener("resize", resize);
  redrawCanvas = redraw;
  resize();
}

// ---------------------------------------------------------------- symbol mode: one symbol -> top-5
const SYMBOL_GLYPHS = {
  "\\alpha": "α", "\\beta": "β", "\\gamma": "γ", "\\Delta": "Δ", "\\theta": "θ", "\\lambda": "λ",
  "\\mu": "μ", "\\pi": "π", "\\sigma": "σ", "\\phi": "φ", "\\infty": "∞", "\\int": "∫", "\\sum": "∑",
  "\\sqrt": "√", "\\times": "×", "\\div": "÷", "\\pm": "±", "\\leq": "≤", "\\geq": "≥", "\\neq": "≠",
  "\\in": "∈", "\\exists": "∃", "\\forall": "∀", "\\rightarrow": "→", "\\ldots": "…", "\\prime": "′",
  "\\{": "{", "\\}": "}",
};
let symbolSeq = 0;

function setupSymbolMode() {
  const canvas = $("symbol-canvas");
  const ctx = canvas.getContext("2d");
  const marks = [];

  function resize() {
    if (!canvas.getBoundingClientRect().width) return; // hidden tab
    fitPad(canvas, ctx);
    redraw();
  }

  const redraw = () => redrawPad(canvas, ctx, marks, t("symbolHint"));

  function showSymbolError(message) {
    const el = $("symbol-error");
    el.textContent = message || "";
    el.hidden = !message;
  }

  function showPredictions(data) {
    const list = $("symbol-results");
    list.replaceChildren();
    for (const p of data.predictions || []) {
      const li = document.createElement("li");
      const label = document.createElement("span");
      label.className = "label";
      const glyph = SYMBOL_GLYPHS[p.label];
      label.textContent = glyph ? glyph + "  " + p.label : p.label;
      label.title = p.label;
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = (100 * p.probability).toFixed(1) + "%";
      bar.appendChild(fill);
      const pct = document.createElement("span");
      pct.className = "pct";
      pct.textContent = (100 * p.probability).toFixed(p.probability < 0.1 ? 1 : 0) + "%";
      li.append(label, bar, pct);
      list.appendChild(li);
    }
    const temp = data.temperature;
    $("symbol-note").textContent = temp && temp !== 1 ? t("calibrated").replace("{t}", temp.toFixed(2)) : t("uncalibrated");
  }

  function clearPredictions() {
    $("symbol-results").replaceChildren();
    $("symbol-note").textContent = "";
    showSymbolError("");
  }

  async function classify(ink) {
    const seq = ++symbolSeq;
    clearPredictions();
    $("symbol-note").textContent = t("classifying");
    const body = JSON.stringify({ strokes: ink, lang: $("lang").value });
    let resp, data;
    try {
      const headers = apiHeaders({ "Content-Type": "application/json" });
      resp = await fetch(withLang("/symbol"), { method: "POST", body: body, headers: headers });
      data = await resp.json();
    } catch (err) {
      console.warn(err);
      if (seq === symbolSeq) { $("symbol-note").textContent = ""; showSymbolError(t("unreachable")); }
      return;
    }
    if (seq !== symbolSeq) return;
    if (!resp.ok) {
      $("symbol-note").textContent = "";
      const error = (data && data.error) || {};
      showSymbolError(error.code === "several_symbols" ? t("severalSymbols") : error.message || "HTTP " + resp.status);
      return;
    }
    showPredictions(data);
  }

  attachPen(canvas, marks, redraw);
  $("symbol-clear-btn").addEventListener("click", () => { marks.length = 0; clearPredictions(); redraw(); });
  $("symbol-undo-btn").addEventListener("click", () => { marks.pop(); redraw(); });
  $("classify-btn").addEventListener("click", () => {
    if (!marks.length) { showSymbolError(t("drawSymbolFirst")); return; }
    classify(inkOf(marks));
  });
  $("tab-symbol").addEventListener("click", resize); // after setupTabs has shown the panel
  $("lang").addEventListener("change", () => { redraw(); clearPredictions(); });
  window.addEventListener("resize", resize);
  resize();
}

// ---------------------------------------------------------------- tabs, upload, editing
function setupTabs() {
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      for (const t of document.querySelectorAll(".tab")) {
        const active = t === tab;
        t.classList.toggle("active", active);
        t.setAttribute("aria-selected", String(active));
        $(t.dataset.panel).hidden = !active;
      }
      if (tab.id === "tab-draw") window.dispatchEvent(new Event("resize"));
      const ownResults = tab.id === "tab-symbol" || tab.id === "tab-check";
      if (ownResults) forgetFormula();
      $("result-card").hidden = ownResults; // Symbol and Check modes have their own results, under their input
    });
  }
}

// Symbol mode: the previous formula's reading and solution go (an answer still on its way is dropped)
function forgetFormula() {
  requestSeq += 1;
  clearTimeout(resolveTimer);
  clearResults(false);
  showError("");
  setStatus(t("start"), false);
  $("preview").hidden = true;
  showModelInput(null);
}

function setupUpload() {
  $("file-input").addEventListener("change", () => {
    const file = $("file-input").files[0];
    if (!file) return;
    const preview = $("preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.onerror = () => { preview.hidden = true; }; // not a picture the browser can show
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    solveImage(file, file.name || "photo");
  });
}

// A formula typed by the pupil is not the photo's: the photo, what was read from it and the boxes drawn
// on it go (picking an alternative of that photo keeps them: that sets the box without an input event)
function forgetPhoto() {
  const preview = $("preview");
  if (preview.hidden) return;
  preview.hidden = true;
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.removeAttribute("src");
  $("file-input").value = ""; // the same photo chosen again is read again
  showModelInput(null);
  showPage(null);
}

function setupEditing() {
  $("latex-input").addEventListener("input", () => {
    forgetPhoto();
    clearTimeout(resolveTimer);
    resolveTimer = setTimeout(solveLatex, RESOLVE_DELAY_MS);
  });
  $("latex-input").addEventListener("keydown", (ev) => { if (ev.key === "Enter") solveLatex(); });
  $("api-key-row").addEventListener("submit", (ev) => ev.preventDefault());
  $("lang").addEventListener("change", () => {
    applyLanguage();
    showError(""); // a message in the old language goes; typed LaTeX is solved again below
    if (pending) { setStatus(t("confirmStatus"), false); askConfirmation(pending); return; } // still asking
    if ($("latex-input").value.trim()) solveLatex();
  });
  $("confirm-btn").addEventListener("click", confirmReading);
}

async function loadInfo() {
  try {
    const resp = await fetch("/health");
    const data = await resp.json();
    if (resp.ok) {
      $("model-info").textContent = t("model") + " " + data.model.name + " " + data.model.version;
      $("api-key-row").hidden = !data.auth_required;
      loadFormats();
    } else {
      showError(t("notReady")); // /health has no language of its own
    }
  } catch (err) {
    showError(t("unreachable"));
  }
}

// the formats the running server accepts (GET /version), not a hard-coded list
async function loadFormats() {
  try {
    const resp = await fetch("/version", { headers: apiHeaders() });
    if (!resp.ok) return;
    const data = await resp.json();
    const formats = (data.limits && data.limits.formats) || [];
    $("formats").textContent = formats.map((f) => (f === "WEBP" ? "WebP" : f)).join(", ");
  } catch (err) {
    // the list is a hint only
  }
}

function applyLanguage() {
  document.documentElement.lang = $("lang").value;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  redrawCanvas();
}

document.addEventListener("DOMContentLoaded", () => {
  const preferred = (navigator.language || "en").slice(0, 2).toLowerCase();
  if (TEXT[preferred]) $("lang").value = preferred;
  applyLanguage();
  setupTabs();
  setupCanvas();
  setupSymbolMode();
  setupUpload();
  setupEditing();
  loadInfo();
});
