/*
 * test_buf.c - (to be written)
 */
int main(void) { return 0; }
