"""Channel economics: the ``roi`` runner (``roi``) and the imported channel spend it reads
(``spend``)."""
