// Package report renders a run record to a self-contained HTML file, Markdown,
// a JSON evidence file and, on demand, a Jupyter notebook.
//
// Write puts the first three in an output folder (what playbook run --out
// does):
//
//   - index.html: one page that stands alone, offline, years later. Inline
//     CSS that follows the reader's dark or light mode and prints well;
//     plots and screenshots as data: images; no script, font, style sheet
//     or image fetched from anywhere, which its Content-Security-Policy
//     enforces;
//   - report.md: the same report for ticket systems and repositories, its
//     plots as SVG files beside it (and the MLflow UI's capture as a PNG);
//   - evidence.json: the run record itself (see docs/evidence-schema.md);
//   - notebook.ipynb, when asked for (WriteFilesWith, playbook run
//     --ipynb; Notebook alone for playbook export): the run as a Jupyter
//     notebook, its prose and cells with their outputs, for GitHub, GitLab
//     and JupyterLab.
//
// The report shows, in the scenario's order and language (French or
// English): the title, a verdict banner (promoted, not promoted, failed)
// and a summary; the scenario's prose; each cell's code, highlighted, with
// its outputs, status and duration; the registry before and after the run
// with its differences marked; identify's leaderboard; the validation
// (metrics against thresholds, candidate against champion, fairness by
// group) and its plots; the end-state checks and the capture of the MLflow
// UI, or why there is none; and an audit block.
//
// Every string of the record is escaped: html/template in the HTML,
// backslashes or code spans in the Markdown. A scenario's prose is
// Markdown, rendered with gomarkdown, but its raw HTML shows as text, its
// images are not loaded and its javascript: links go nowhere. Plots are
// SVG drawn by gonum/plot, cleaned of anything that is not drawing, and
// their curves thinned to MaxCurvePoints points.
//
// Rendering reads the record and nothing else: no clock, no file, no map
// order; the same record gives the same bytes.
package report
