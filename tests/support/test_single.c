/*
 * test_single.c - (to be written)
 */
int main(void) { return 0; }
