/*
 * test_mbox.c - (to be written)
 */
int main(void) { return 0; }
