// serbench leaderboard site: sort any table.sortable by a column, filter table.filterable rows.
// Plain JavaScript, no dependencies; works from file:// (the data is in the page, nothing is fetched).
"use strict";

function sortKey(row, index) {
  const cell = row.cells[index];
  if (!cell) return { empty: true };
  const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
  if (raw === "") return { empty: true };
  const number = Number(raw);
  return Number.isFinite(number) ? { number } : { text: raw.toLowerCase() };
}

function compareKeys(a, b) {
  if (a.empty || b.empty) return a.empty && b.empty ? 0 : a.empty ? 1 : -1;
  if (a.number !== undefined && b.number !== undefined) return a.number - b.number;
  const x = a.number !== undefined ? String(a.number) : a.text;
  const y = b.number !== undefined ? String(b.number) : b.text;
  return x < y ? -1 : x > y ? 1 : 0;
}

function sortTable(table, index, header) {
  // numbers start high-to-low (best UAR first), text A-Z; a second click reverses
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const numeric = rows.some((r) => sortKey(r, index).number !== undefined);
  const current = header.getAttribute("aria-sort");
  const ascending = current ? current === "descending" : !numeric;
  table.querySelectorAll("thead th").forEach((th) => th.removeAttribute("aria-sort"));
  header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  rows.map((row, i) => ({ row, i, key: sortKey(row, index) }))
    .sort((a, b) => {
      const empty = a.key.empty || b.key.empty;
      const c = compareKeys(a.key, b.key);
      return (empty ? c : ascending ? c : -c) || a.i - b.i;
    })
    .forEach(({ row }) => body.appendChild(row));
}

function applyFilters(tableId) {
  const table = document.getElementById(tableId);
  if (!table) return;
  const active = Array.from(document.querySelectorAll(`select[data-target="${tableId}"]`))
    .filter((s) => s.value !== "")
    .map((s) => [s.dataset.filter, s.value]);
  let shown = 0;
  const rows = Array.from(table.tBodies[0].rows);
  rows.forEach((row) => {
    const keep = active.every(([key, value]) => row.dataset[key] === value);
    row.classList.toggle("hidden", !keep);
    if (keep) shown += 1;
  });
  document.querySelectorAll(`.shown[data-for="${tableId}"]`).forEach((el) => {
    el.textContent = `${shown} of ${rows.length} results shown`;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("thead th").forEach((th, index) => {
      th.tabIndex = 0;
      th.title = "sort by this column";
      th.addEventListener("click", () => sortTable(table, index, th));
      th.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sortTable(table, index, th);
        }
      });
    });
  });
  const targets = new Set();
  document.querySelectorAll("select[data-filter]").forEach((select) => {
    targets.add(select.dataset.target);
    select.addEventListener("change", () => applyFilters(select.dataset.target));
  });
  targets.forEach(applyFilters);
});
