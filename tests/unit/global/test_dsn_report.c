/*
 * test_dsn_report.c - (to be written)
 */
int main(void) { return 0; }
