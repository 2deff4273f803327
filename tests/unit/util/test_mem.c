/*
 * test_mem.c - (to be written)
 */
int main(void) { return 0; }
