/*
 * test_bounce_log.c - (to be written)
 */
int main(void) { return 0; }
