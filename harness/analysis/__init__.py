"""Reading finished cells: scoring prediction files, paired significance, the summary
table, the records of finished cells and the leaderboards with their plots."""
