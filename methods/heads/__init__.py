"""Task heads shared by the methods: ISLR classifier, CSLR CTC, SLT seq2seq."""
