// Placeholder entry point, replaced by the command dispatcher below.
int main() { return 0; }
