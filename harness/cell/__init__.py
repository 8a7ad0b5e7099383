"""One cell (method x benchmark x seed): the runner, its result file, its tracking, its
per-clip statistics, the listing of finished cells and their reproduction."""
