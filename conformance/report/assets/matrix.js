(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var table = document.getElementById("matrix");
  var drawer = document.getElementById("drawer");
  var body = document.getElementById("drawer-body");
  var active = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function pill(outcome, glyph) {
    var cls = "o-" + String(outcome).replace("/", "");
    return el("span", "pill " + cls, glyph);
  }
  function row(dl, key, value) {
    if (value === undefined || value === null || value === "") return;
    dl.appendChild(el("dt", null, key));
    var dd = el("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
    dl.appendChild(dd);
  }
  function rich(cls, text) {
    var node = el("span", cls);
    var parts = String(text).split("`");
    if (parts.length < 3 || parts.length % 2 === 0) {
      node.textContent = String(text);
      return node;
    }
    parts.forEach(function (part, i) {
      var code = i % 2 && part.trim();
      node.appendChild(code ? el("code", null, part) : document.createTextNode(part));
    });
    return node;
  }
  function link(url) {
    if (!/^https?:\/\//.test(url)) return el("code", null, url);
    var a = el("a", null, url);
    a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer";
    return a;
  }
  function copyButton(text) {
    var b = el("button", "copy", "copy");
    b.type = "button"; b.setAttribute("data-copy", text);
    return b;
  }
  function open(nodes) {
    while (body.firstChild) body.removeChild(body.firstChild);
    nodes.forEach(function (n) { body.appendChild(n); });
    drawer.classList.add("open");
    drawer.setAttribute("aria-hidden", "false");
  }
  function close() {
    if (drawer.classList.contains("open") && history.replaceState && location.hash) {
      history.replaceState(null, "", location.pathname + location.search);
    }
    drawer.classList.remove("open");
    drawer.setAttribute("aria-hidden", "true");
    if (active) active.classList.remove("active");
    active = null;
  }
  function columnNodes(col) {
    var c = data.columns[col];
    var nodes = [el("h2", null, c.header), el("p", "meta", c.name)];
    var dl = el("dl");
    if (c.recorded) {
      row(dl, "provenance", c.provenance);
      row(dl, "server", c.server);
      row(dl, "model", c.model);
      row(dl, "configuration", c.configuration);
      row(dl, "mode", c.mode);
      row(dl, "date", c.date);
      row(dl, "recorded", c.recorded_date);
      row(dl, "suite", c.suite_version);
      row(dl, "any-agent", c.any_agent_version);
      row(dl, "python", c.python);
      row(dl, "base URL", c.base_url);
      row(dl, "sources", (c.sources || []).join(", "));
      nodes.push(dl);
      nodes.push(el("h4", null, "Re-record"));
    } else {
      nodes.push(el("p", null, "No results for this system yet. Record it against a live server:"));
    }
    [c.record_command, c.make_command].forEach(function (cmd) {
      var r = el("div", "cmdrow");
      r.appendChild(el("code", "cmd", cmd));
      r.appendChild(copyButton(cmd));
      nodes.push(r);
    });
    return nodes;
  }
  function cellNodes(id) {
    var cell = data.cells[id];
    var c = data.columns[cell.col];
    var check = data.checks[cell.check] || {};
    var nodes = [el("h2", null, cell.check)];
    if (check.title) { var p = el("p"); p.appendChild(rich(null, check.title)); nodes.push(p); }
    nodes.push(el("p", "meta", [check.level, check.area, c.header, c.provenance]
      .filter(Boolean).join(" · ")));
    cell.judged.forEach(function (layer) {
      var r = cell.layers[layer];
      var sec = el("section");
      var h = el("h3");
      var info = data.legend[r ? r.outcome : "missing"] || data.legend.unknown;
      h.appendChild(pill(info.outcome, info.glyph));
      h.appendChild(el("span", null, (layer === "sdk" ? "SDK" : "wire") + " — " +
        (r ? r.outcome : "no result")));
      sec.appendChild(h);
      if (r) {
        var dl = el("dl");
        if (r.message) row(dl, "message", rich(null, r.message));
        if (r.reason) row(dl, "reason", rich(null, r.reason));
        if (r.link) row(dl, "link", link(r.link));
        if (r.note) row(dl, "note", "#" + r.note);
        row(dl, "duration", r.duration === null ? null : r.duration.toFixed(3) + " s");
        row(dl, "cassette", r.cassette);
        if (r.from_manifest) row(dl, "source", "provider manifest (declared, not measured)");
        sec.appendChild(dl);
        var pairs = [["Request", r.request], ["Response excerpt", r.response]];
        var n = (r.exchanges || []).length;
        if (n > 1) {
          pairs = [];
          r.exchanges.forEach(function (x, i) {
            var of = " " + (i + 1) + " of " + n;
            pairs.push(["Request" + of, x[0]], ["Response excerpt" + of, x[1]]);
          });
        }
        pairs.forEach(function (p) {
          if (!p[1]) return;
          sec.appendChild(el("h4", null, p[0]));
          sec.appendChild(el("pre", null, p[1]));
        });
      }
      nodes.push(sec);
    });
    return nodes;
  }

  function openCell(btn) {
    if (active) active.classList.remove("active");
    active = btn; btn.classList.add("active");
    var id = btn.getAttribute("data-cell");
    open(cellNodes(id));
    if (history.replaceState) history.replaceState(null, "", "#cell=" + id);
  }
  function fromHash() {
    var m = /^#cell=(k[0-9]+)$/.exec(location.hash);
    var btn = m && document.querySelector('.cellbtn[data-cell="' + m[1] + '"]');
    if (btn) openCell(btn);
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) return;
    var copy = t.closest("[data-copy]");
    if (copy) {
      var text = copy.getAttribute("data-copy");
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () {
        copy.textContent = "copied";
        setTimeout(function () { copy.textContent = "copy"; }, 1200);
      }, function () {});
      return;
    }
    if (t.closest(".close")) { close(); return; }
    var btn = t.closest(".cellbtn");
    if (btn) { openCell(btn); return; }
    var col = t.closest("th.col, td.nr, .card, .missing li");
    if (col && col.hasAttribute("data-col")) {
      open(columnNodes(Number(col.getAttribute("data-col"))));
      return;
    }
    if (!t.closest("#drawer")) close();
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") close();
    if (ev.key === "Enter" && ev.target instanceof Element && ev.target.hasAttribute("data-col")
        && ev.target.matches("th.col, .card")) {
      open(columnNodes(Number(ev.target.getAttribute("data-col"))));
    }
  });

  function checked(name) {
    var out = {};
    document.querySelectorAll("input[name=" + name + "]").forEach(function (i) {
      out[i.value] = i.checked;
    });
    return out;
  }
  function apply() {
    var areas = checked("area"), levels = checked("level");
    var problems = document.getElementById("problems").checked;
    var q = document.getElementById("search").value.trim().toLowerCase();
    var shown = 0, total = 0;
    table.classList.toggle("hide-nr", document.getElementById("hide-nr").checked);
    table.querySelectorAll("tbody").forEach(function (tb) {
      var areaOn = areas[tb.getAttribute("data-area")] !== false;
      var any = false;
      tb.querySelectorAll("tr.check-row").forEach(function (tr) {
        total += 1;
        var ok = areaOn && levels[tr.getAttribute("data-level")] !== false &&
          (!problems || tr.getAttribute("data-problem") === "1") &&
          (!q || tr.getAttribute("data-search").indexOf(q) >= 0);
        tr.classList.toggle("hidden", !ok);
        if (ok) { any = true; shown += 1; }
      });
      tb.classList.toggle("hidden", !any);
    });
    document.getElementById("shown").textContent = shown + " of " + total + " checks";
  }
  document.querySelectorAll(".controls input").forEach(function (i) {
    i.addEventListener("input", apply);
    i.addEventListener("change", apply);
  });
  apply();
  fromHash();
})();
