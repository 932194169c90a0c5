"""HTTP controllers: thin translation between HTTP and the DecisionService."""
